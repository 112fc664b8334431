import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchRoute } from '../../src/http/routes.js';

describe('route matching', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const cases: Array<[string, string | undefined, string?, string?]> = [
    ['/v2/', 'base'],
    ['/v2', 'base'],
    ['/v2/_catalog', 'catalog'],
    ['/v2/a/b/manifests/latest', 'manifest', 'a/b', 'latest'],
    [`/v2/a/blobs/${digest}`, 'blob', 'a', digest],
    ['/v2/a/b/c/blobs/uploads/', 'uploads', 'a/b/c'],
    ['/v2/a/blobs/uploads', 'uploads', 'a'],
    ['/v2/a/blobs/uploads/1234', 'upload', 'a', '1234'],
    ['/v2/a/tags/list', 'tags', 'a'],
    [`/v2/a/referrers/${digest}`, 'referrers', 'a', digest],
    // A name may itself contain a resource word: the suffix is matched from the end.
    ['/v2/x/manifests/y/manifests/v1', 'manifest', 'x/manifests/y', 'v1'],
    ['/v2/x/blobs/uploads/blobs/uploads/', 'uploads', 'x/blobs/uploads'],
    [`/v2/a/manifests/sha256%3A${'a'.repeat(64)}`, 'manifest', 'a', digest],
    ['/v2/a/unknown/x', undefined],
    ['/metrics', undefined],
  ];
  for (const [path, kind, name, reference] of cases) {
    it(`${path} -> ${kind ?? 'no route'}`, () => {
      const route = matchRoute(path);
      assert.equal(route?.kind, kind);
      if (name !== undefined) assert.equal(route?.name, name);
      if (reference !== undefined) assert.equal(route?.reference, reference);
    });
  }
  it('decodes %2e%2e so that the name check rejects it', () => {
    assert.equal(matchRoute('/v2/%2e%2e/tags/list')?.name, '..');
  });
  it('throws NAME_INVALID on a malformed percent-encoding', () => {
    assert.throws(() => matchRoute('/v2/a%zz/tags/list'), /percent-encoding/);
  });
});
