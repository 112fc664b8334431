import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf, parseDigest, tryParseDigest } from '../../src/core/digest.js';
import { isRegistryError } from '../../src/core/errors.js';

const SHA256_EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('digest', () => {
  it('computes sha256 and sha512 digests of bytes', () => {
    assert.equal(digestOf(Buffer.alloc(0)).value, SHA256_EMPTY);
    const sha512 = digestOf(Buffer.from('abc'), 'sha512');
    assert.equal(sha512.algorithm, 'sha512');
    assert.equal(sha512.hex.length, 128);
    assert.ok(sha512.hex.startsWith('ddaf35a193617aba'));
  });

  it('parses well-formed sha256 and sha512 digests', () => {
    const d = parseDigest(SHA256_EMPTY);
    assert.deepEqual(d, { algorithm: 'sha256', hex: SHA256_EMPTY.slice(7), value: SHA256_EMPTY });
    assert.equal(parseDigest(`sha512:${'a'.repeat(128)}`).algorithm, 'sha512');
  });

  const bad = [
    ['no algorithm', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['unsupported algorithm', `md5:${'a'.repeat(32)}`],
    ['short hex', 'sha256:abc'],
    ['long hex', `sha256:${'a'.repeat(65)}`],
    ['uppercase hex', `sha256:${'A'.repeat(64)}`],
    ['non-hex', `sha256:${'g'.repeat(64)}`],
    ['sha512 length for sha256', `sha256:${'a'.repeat(128)}`],
    ['empty', ''],
    ['path traversal', 'sha256:../../etc/passwd'],
  ] as const;
  for (const [what, text] of bad) {
    it(`rejects ${what} with DIGEST_INVALID`, () => {
      assert.equal(tryParseDigest(text), undefined);
      assert.throws(
        () => parseDigest(text),
        (err: unknown) => isRegistryError(err) && err.code === 'DIGEST_INVALID' && err.status === 400,
      );
    });
  }
});
