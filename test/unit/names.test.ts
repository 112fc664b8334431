import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRegistryError } from '../../src/core/errors.js';
import { assertValidName, isValidName, isValidTag, MAX_NAME_LENGTH } from '../../src/core/names.js';
import { parseManifestReference } from '../../src/core/reference.js';

describe('repository names', () => {
  const good = ['a', 'library/nginx', 'a.b_c__d-e--f', 'x/y/z/w', 'a0/b1', 'a'.repeat(MAX_NAME_LENGTH)];
  const bad = ['', 'A', 'a/', '/a', 'a//b', '..', 'a/../b', '%2e%2e', '-a', 'a-', '_a', 'a/_b', 'a___b', 'a.-b', 'a b', 'a:b', 'a'.repeat(MAX_NAME_LENGTH + 1)];
  for (const name of good) it(`accepts "${name.slice(0, 30)}"`, () => assert.ok(isValidName(name)));
  for (const name of bad) {
    it(`rejects "${name.slice(0, 30)}" with NAME_INVALID`, () => {
      assert.equal(isValidName(name), false);
      assert.throws(() => assertValidName(name), (err: unknown) => isRegistryError(err) && err.code === 'NAME_INVALID');
    });
  }
});

describe('tags and references', () => {
  it('accepts tags of the spec grammar up to 128 characters', () => {
    for (const tag of ['latest', 'v1.2.3', '_x', 'A-b_c.d', 'a'.repeat(128)]) assert.ok(isValidTag(tag), tag);
  });
  it('rejects other tags', () => {
    for (const tag of ['', '.a', '-a', 'a/b', 'a:b', 'a b', 'a'.repeat(129), 'é']) assert.equal(isValidTag(tag), false, tag);
  });
  it('parses a reference as a digest when it has a colon, else as a tag', () => {
    assert.deepEqual(parseManifestReference('v1'), { kind: 'tag', tag: 'v1' });
    const ref = parseManifestReference(`sha256:${'a'.repeat(64)}`);
    assert.equal(ref.kind, 'digest');
    assert.throws(() => parseManifestReference('sha256:zz'), (err: unknown) => isRegistryError(err) && err.code === 'DIGEST_INVALID');
    assert.throws(() => parseManifestReference('.bad'), (err: unknown) => isRegistryError(err) && err.code === 'MANIFEST_INVALID');
  });
});
