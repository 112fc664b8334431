import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { assertError, assertStatus, header } from '../helpers/assert-registry.js';
import { raw } from '../helpers/raw-http.js';
import { digestOf, pushBlob } from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';

/** Spec "Pulling blobs" and "Checking if content exists": HEAD, and Range requests (RFC 9110 section 14). */
const porthole = sharedPorthole();
const NAME = 'spec/blobs';
const SIZE = 1000;
const data = randomBytes(SIZE);
let digest: string;

function getRange(range: string) {
  return raw(porthole().url, { path: `/v2/${NAME}/blobs/${digest}`, headers: { range } });
}

describe('blob reads', () => {
  before(async () => {
    digest = await pushBlob(porthole().url, NAME, data);
  });

  it('serves the whole blob with 200, Content-Length and Docker-Content-Digest', async () => {
    const response = await raw(porthole().url, { path: `/v2/${NAME}/blobs/${digest}` });
    assertStatus(response, 200);
    assert.equal(header(response, 'content-length'), String(SIZE));
    assert.equal(header(response, 'docker-content-digest'), digest);
    assert.ok(response.body.equals(data));
  });

  it('answers HEAD with 200, no body, the Content-Length of the blob and its digest', async () => {
    const response = await raw(porthole().url, { method: 'HEAD', path: `/v2/${NAME}/blobs/${digest}` });
    assertStatus(response, 200);
    assert.equal(response.body.length, 0);
    assert.equal(header(response, 'content-length'), String(SIZE));
    assert.equal(header(response, 'docker-content-digest'), digest);
  });

  it('answers HEAD of a missing blob with 404 and no body', async () => {
    const response = await raw(porthole().url, { method: 'HEAD', path: `/v2/${NAME}/blobs/${digestOf(randomBytes(4))}` });
    assertStatus(response, 404);
    assert.equal(response.body.length, 0);
  });

  const satisfiable: Array<{ range: string; start: number; end: number }> = [
    { range: 'bytes=0-99', start: 0, end: 99 },
    { range: 'bytes=100-199', start: 100, end: 199 },
    { range: 'bytes=990-', start: 990, end: 999 },
    { range: 'bytes=-10', start: 990, end: 999 },
    { range: 'bytes=-5000', start: 0, end: 999 },
    { range: 'bytes=995-5000', start: 995, end: 999 },
    { range: 'bytes=999-999', start: 999, end: 999 },
    // A last position past the end is clamped, whatever its number of digits (RFC 9110 14.1.2).
    { range: 'bytes=0-99999999999999999999', start: 0, end: 999 },
    { range: 'bytes=-99999999999999999999', start: 0, end: 999 },
  ];
  for (const { range, start, end } of satisfiable) {
    it(`answers Range: ${range} with 206 and Content-Range bytes ${start}-${end}/${SIZE}`, async () => {
      const response = await getRange(range);
      assertStatus(response, 206);
      assert.equal(header(response, 'content-range'), `bytes ${start}-${end}/${SIZE}`);
      assert.equal(header(response, 'content-length'), String(end - start + 1));
      assert.ok(response.body.equals(data.subarray(start, end + 1)));
    });
  }

  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=500-100', 'bytes=99999999999999999999-']) {
    it(`answers the unsatisfiable Range: ${range} with 416 and Content-Range: bytes */${SIZE}`, async () => {
      const response = await getRange(range);
      assertError(response, 416, 'SIZE_INVALID');
      assert.equal(header(response, 'content-range'), `bytes */${SIZE}`);
    });
  }

  it('ignores a Range in another unit and serves the whole blob', async () => {
    const response = await getRange('items=0-1');
    assertStatus(response, 200);
    assert.ok(response.body.equals(data));
  });
});
