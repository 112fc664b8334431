import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_TABLE, NON_SPEC_CLIENT_CODES, RegistryError } from '../../src/core/errors.js';

/** The fourteen codes of the Distribution Spec's error table; a 4xx answer may carry no other. */
const SPEC_CODES = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS',
];

describe('error table', () => {
  it('holds every spec code', () => {
    for (const code of SPEC_CODES) assert.ok(Object.hasOwn(ERROR_TABLE, code), code);
  });

  it('gives every non-spec code a 5xx status, so no 4xx answer under /v2 carries one (the management API\'s own are listed apart)', () => {
    for (const [code, entry] of Object.entries(ERROR_TABLE)) {
      if (SPEC_CODES.includes(code) || NON_SPEC_CLIENT_CODES.includes(code as keyof typeof ERROR_TABLE)) continue;
      assert.ok(entry.status >= 500, `${code} has status ${entry.status}`);
    }
    assert.deepEqual(NON_SPEC_CLIENT_CODES, ['PAGINATION_NUMBER_INVALID']);
  });

  it('uses the spec statuses', () => {
    assert.equal(ERROR_TABLE.BLOB_UNKNOWN.status, 404);
    assert.equal(ERROR_TABLE.MANIFEST_UNKNOWN.status, 404);
    assert.equal(ERROR_TABLE.NAME_UNKNOWN.status, 404);
    assert.equal(ERROR_TABLE.BLOB_UPLOAD_UNKNOWN.status, 404);
    assert.equal(ERROR_TABLE.DIGEST_INVALID.status, 400);
    assert.equal(ERROR_TABLE.UNAUTHORIZED.status, 401);
    assert.equal(ERROR_TABLE.DENIED.status, 403);
    assert.equal(ERROR_TABLE.TOOMANYREQUESTS.status, 429);
  });

  it('lets a thrower override the status and add headers and further errors', () => {
    const extra = new RegistryError('MANIFEST_BLOB_UNKNOWN', 'second');
    const err = new RegistryError('BLOB_UPLOAD_INVALID', 'out of order', { at: 3 }, { status: 416, headers: { range: '0-2' }, additional: [extra] });
    assert.equal(err.status, 416);
    assert.equal(err.code, 'BLOB_UPLOAD_INVALID');
    assert.deepEqual(err.headers, { range: '0-2' });
    assert.deepEqual(err.additional, [extra]);
    assert.equal(new RegistryError('NAME_INVALID').message, ERROR_TABLE.NAME_INVALID.message);
  });
});
