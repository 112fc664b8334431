import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { assertError, assertStatus, header, UPLOAD_LOCATION } from '../helpers/assert-registry.js';
import { raw } from '../helpers/raw-http.js';
import { digestOf, pushBlob, pushChunked, startUpload, withQuery } from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';
import { streamRequest } from '../helpers/stream-request.js';

/** Spec "Pushing blobs": the upload paths real clients rarely take (chunks, status, cancel, sha512, mount). */
const porthole = sharedPorthole();
const octets = { 'content-type': 'application/octet-stream' };

function patch(location: string, chunk: Buffer, range?: string) {
  const headers: Record<string, string | number> = { ...octets, 'content-length': chunk.length };
  if (range !== undefined) headers['content-range'] = range;
  return raw(porthole().url, { method: 'PATCH', path: location, headers, body: chunk });
}

function uploadStatus(location: string) {
  return raw(porthole().url, { method: 'GET', path: location });
}

async function assertBlobContent(name: string, digest: string, data: Buffer): Promise<void> {
  const response = await raw(porthole().url, { path: `/v2/${name}/blobs/${digest}` });
  assertStatus(response, 200);
  assert.equal(header(response, 'docker-content-digest'), digest);
  assert.ok(response.body.equals(data), 'blob content differs from what was pushed');
}

describe('chunked uploads', () => {
  it('takes several PATCH chunks with Content-Range, answering each with 202, Location and the Range so far', async () => {
    const data = randomBytes(10_000);
    const location = await startUpload(porthole().url, 'spec/chunked');
    assert.match(location, UPLOAD_LOCATION);
    const chunkSize = 3000;
    for (let start = 0; start < data.length; start += chunkSize) {
      const end = Math.min(data.length, start + chunkSize) - 1;
      const response = await patch(location, data.subarray(start, end + 1), `${start}-${end}`);
      assertStatus(response, 202);
      assert.equal(header(response, 'location'), location);
      assert.equal(header(response, 'range'), `0-${end}`);
    }
    const digest = digestOf(data);
    const put = await raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${digest}`), headers: { 'content-length': 0 } });
    assertStatus(put, 201);
    assert.equal(header(put, 'location'), `/v2/spec/chunked/blobs/${digest}`);
    assert.equal(header(put, 'docker-content-digest'), digest);
    await assertBlobContent('spec/chunked', digest, data);
  });

  it('answers an out-of-order chunk with 416 and the Range of what it holds, and keeps the session usable', async () => {
    const data = randomBytes(30);
    const location = await startUpload(porthole().url, 'spec/chunked');
    assertStatus(await patch(location, data.subarray(0, 10), '0-9'), 202);

    const skipped = await patch(location, data.subarray(20, 30), '20-29');
    assertError(skipped, 416, 'BLOB_UPLOAD_INVALID');
    assert.equal(header(skipped, 'range'), '0-9');
    assert.equal(header(skipped, 'location'), location);

    const repeated = await patch(location, data.subarray(0, 10), '0-9');
    assertError(repeated, 416, 'BLOB_UPLOAD_INVALID');
    assert.equal(header(repeated, 'range'), '0-9');

    assertStatus(await patch(location, data.subarray(10, 20), '10-19'), 202);
    const digest = digestOf(data);
    const put = await raw(porthole().url, {
      method: 'PUT',
      path: withQuery(location, `digest=${digest}`),
      headers: { ...octets, 'content-range': '20-29', 'content-length': 10 },
      body: data.subarray(20, 30),
    });
    assertStatus(put, 201);
    await assertBlobContent('spec/chunked', digest, data);
  });

  it('answers a final chunk out of order in the closing PUT with 416', async () => {
    const data = randomBytes(20);
    const location = await startUpload(porthole().url, 'spec/chunked');
    assertStatus(await patch(location, data.subarray(0, 10), '0-9'), 202);
    const put = await raw(porthole().url, {
      method: 'PUT',
      path: withQuery(location, `digest=${digestOf(data)}`),
      headers: { ...octets, 'content-range': '11-20', 'content-length': 10 },
      body: data.subarray(10, 20),
    });
    assertError(put, 416, 'BLOB_UPLOAD_INVALID');
    assert.equal(header(put, 'range'), '0-9');
    assertStatus(await raw(porthole().url, { method: 'DELETE', path: location }), 204);
  });

  for (const malformed of ['abc', '5-2', '0-', '-9', '0-9/10', '0,9']) {
    it(`answers a malformed Content-Range "${malformed}" with 416 and the current Range`, async () => {
      const location = await startUpload(porthole().url, 'spec/chunked');
      assertStatus(await patch(location, Buffer.from('0123'), '0-3'), 202);
      const response = await patch(location, Buffer.from('4567'), malformed);
      assertError(response, 416, 'BLOB_UPLOAD_INVALID');
      assert.equal(header(response, 'range'), '0-3');
      assert.equal(header(response, 'location'), location);
      assertStatus(await raw(porthole().url, { method: 'DELETE', path: location }), 204);
    });
  }

  it('accepts streamed PATCH bodies without Content-Range or Content-Length (chunked transfer encoding)', async () => {
    const pieces = [randomBytes(70_000), randomBytes(50_000), randomBytes(1)];
    const location = await startUpload(porthole().url, 'spec/streamed');
    const first = await streamRequest(porthole().url, { method: 'PATCH', path: location, headers: octets, pieces: pieces.slice(0, 2), timeoutMs: 15_000 }).response;
    assertStatus(first, 202);
    assert.equal(header(first, 'range'), '0-119999');
    const second = await streamRequest(porthole().url, { method: 'PATCH', path: location, headers: octets, pieces: pieces.slice(2), timeoutMs: 15_000 }).response;
    assertStatus(second, 202);
    assert.equal(header(second, 'range'), '0-120000');
    const data = Buffer.concat(pieces);
    const put = await raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${digestOf(data)}`), headers: { 'content-length': 0 } });
    assertStatus(put, 201);
    await assertBlobContent('spec/streamed', digestOf(data), data);
  });
});

describe('a closing PUT retried', () => {
  it('answers 201 again for the same digest (PUT is idempotent), and the finished session is otherwise unknown', async () => {
    const data = randomBytes(5000);
    const digest = digestOf(data);
    const location = await startUpload(porthole().url, 'spec/retried');
    assertStatus(await patch(location, data, '0-4999'), 202);
    const close = () => raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${digest}`), headers: { 'content-length': 0 } });
    assertStatus(await close(), 201);
    // A client whose first PUT was cut off (a crash, a dropped connection) retries it.
    const retried = await close();
    assertStatus(retried, 201);
    assert.equal(header(retried, 'location'), `/v2/spec/retried/blobs/${digest}`);
    assert.equal(header(retried, 'docker-content-digest'), digest);
    await assertBlobContent('spec/retried', digest, data);

    assertError(await uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(location, Buffer.from('more'), '5000-5003'), 404, 'BLOB_UPLOAD_UNKNOWN');
    const otherDigest = raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${digestOf('other')}`), headers: { 'content-length': 0 } });
    assertError(await otherDigest, 404, 'BLOB_UPLOAD_UNKNOWN');
    // Only in its own repository: the record is no way to link a blob anywhere else.
    const elsewhere = location.replace('/v2/spec/retried/', '/v2/spec/elsewhere/');
    assertError(await raw(porthole().url, { method: 'PUT', path: withQuery(elsewhere, `digest=${digest}`), headers: { 'content-length': 0 } }), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await raw(porthole().url, { path: `/v2/spec/elsewhere/blobs/${digest}` }), 404, 'BLOB_UNKNOWN');
  });

  it('answers 404 once the blob it stored was deleted', async () => {
    const data = randomBytes(100);
    const digest = digestOf(data);
    const location = await startUpload(porthole().url, 'spec/retried-deleted');
    const close = () =>
      raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${digest}`), headers: { ...octets, 'content-length': data.length }, body: data });
    assertStatus(await close(), 201);
    assertStatus(await raw(porthole().url, { method: 'DELETE', path: `/v2/spec/retried-deleted/blobs/${digest}` }), 202);
    const retried = await raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${digest}`), headers: { 'content-length': 0 } });
    assertError(retried, 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});

describe('upload status and cancel', () => {
  it('reports an active session with 204, Location and Range (GET <location>)', async () => {
    const location = await startUpload(porthole().url, 'spec/status');
    const empty = await uploadStatus(location);
    assertStatus(empty, 204);
    assert.equal(header(empty, 'location'), location);
    assert.equal(header(empty, 'range'), '0-0');
    assert.equal(empty.body.length, 0);

    assertStatus(await patch(location, randomBytes(1234), '0-1233'), 202);
    const after = await uploadStatus(location);
    assertStatus(after, 204);
    assert.equal(header(after, 'location'), location);
    assert.equal(header(after, 'range'), '0-1233');
    assertStatus(await raw(porthole().url, { method: 'DELETE', path: location }), 204);
  });

  it('cancels a session with DELETE (204); the session is then unknown to every upload method', async () => {
    const location = await startUpload(porthole().url, 'spec/status');
    assertStatus(await patch(location, Buffer.from('partial'), '0-6'), 202);
    const cancelled = await raw(porthole().url, { method: 'DELETE', path: location, headers: { 'content-length': 0 } });
    assertStatus(cancelled, 204);
    assertError(await uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await patch(location, Buffer.from('more'), '7-10'), 404, 'BLOB_UPLOAD_UNKNOWN');
    const put = await raw(porthole().url, { method: 'PUT', path: withQuery(location, `digest=${digestOf('partial')}`), headers: { 'content-length': 0 } });
    assertError(put, 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await raw(porthole().url, { method: 'DELETE', path: location }), 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});

describe('monolithic uploads', () => {
  it('takes a whole blob in a single POST ?digest= (201, Location, Docker-Content-Digest)', async () => {
    const data = randomBytes(4096);
    const digest = digestOf(data);
    const response = await raw(porthole().url, {
      method: 'POST',
      path: `/v2/spec/mono/blobs/uploads/?digest=${digest}`,
      headers: { ...octets, 'content-length': data.length },
      body: data,
    });
    assertStatus(response, 201);
    assert.equal(header(response, 'location'), `/v2/spec/mono/blobs/${digest}`);
    assert.equal(header(response, 'docker-content-digest'), digest);
    await assertBlobContent('spec/mono', digest, data);
  });

  it('takes a whole blob in POST then PUT with the body', async () => {
    const data = randomBytes(5000);
    const digest = digestOf(data);
    const location = await startUpload(porthole().url, 'spec/mono');
    const put = await raw(porthole().url, {
      method: 'PUT',
      path: withQuery(location, `digest=${digest}`),
      headers: { ...octets, 'content-length': data.length },
      body: data,
    });
    assertStatus(put, 201);
    assert.equal(header(put, 'location'), `/v2/spec/mono/blobs/${digest}`);
    assert.equal(header(put, 'docker-content-digest'), digest);
    await assertBlobContent('spec/mono', digest, data);
    assertError(await uploadStatus(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('accepts an empty blob', async () => {
    const empty = Buffer.alloc(0);
    const digest = await pushBlob(porthole().url, 'spec/mono', empty, 'post-put');
    assert.equal(digest, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    await assertBlobContent('spec/mono', digest, empty);
  });

  it('stores a blob pushed in chunks and one pushed whole under the same digest', async () => {
    const data = randomBytes(9000);
    const chunked = await pushChunked(porthole().url, 'spec/mono', data, 4000);
    const whole = await pushBlob(porthole().url, 'spec/mono', data);
    assert.equal(chunked, whole);
    await assertBlobContent('spec/mono', whole, data);
  });
});

describe('sha512 blobs', () => {
  it('takes POST ?digest=sha512:... and serves the blob under its sha512 digest', async () => {
    const data = randomBytes(3000);
    const digest = digestOf(data, 'sha512');
    const response = await raw(porthole().url, {
      method: 'POST',
      path: `/v2/spec/sha512/blobs/uploads/?digest=${digest}`,
      headers: { ...octets, 'content-length': data.length },
      body: data,
    });
    assertStatus(response, 201);
    assert.equal(header(response, 'docker-content-digest'), digest);
    assert.equal(header(response, 'location'), `/v2/spec/sha512/blobs/${digest}`);
    await assertBlobContent('spec/sha512', digest, data);
  });

  it('takes a session started with digest-algorithm=sha512 and closed with a sha512 digest', async () => {
    const data = randomBytes(7000);
    const location = await startUpload(porthole().url, 'spec/sha512', '?digest-algorithm=sha512');
    assertStatus(await patch(location, data.subarray(0, 5000), '0-4999'), 202);
    const digest = digestOf(data, 'sha512');
    const put = await raw(porthole().url, {
      method: 'PUT',
      path: withQuery(location, `digest=${digest}`),
      headers: { ...octets, 'content-range': '5000-6999', 'content-length': 2000 },
      body: data.subarray(5000),
    });
    assertStatus(put, 201);
    assert.equal(header(put, 'docker-content-digest'), digest);
    await assertBlobContent('spec/sha512', digest, data);
  });
});

describe('cross-repository mount', () => {
  it('mounts a blob from another repository: 201, Location and Docker-Content-Digest', async () => {
    const data = randomBytes(2048);
    const digest = await pushBlob(porthole().url, 'spec/mount-source', data);
    const response = await raw(porthole().url, {
      method: 'POST',
      path: `/v2/spec/mount-target/blobs/uploads/?mount=${digest}&from=spec/mount-source`,
      headers: { 'content-length': 0 },
    });
    assertStatus(response, 201);
    assert.equal(header(response, 'location'), `/v2/spec/mount-target/blobs/${digest}`);
    assert.equal(header(response, 'docker-content-digest'), digest);
    await assertBlobContent('spec/mount-target', digest, data);
  });

  it('falls back to a new upload session (202 + Location) when `from` does not have the blob', async () => {
    const digest = digestOf(randomBytes(16));
    const response = await raw(porthole().url, {
      method: 'POST',
      path: `/v2/spec/mount-target/blobs/uploads/?mount=${digest}&from=spec/mount-source`,
      headers: { 'content-length': 0 },
    });
    assertStatus(response, 202);
    const location = header(response, 'location') ?? '';
    assert.match(location, UPLOAD_LOCATION);
    assert.equal(header(response, 'docker-content-digest'), undefined);
    assertStatus(await uploadStatus(location), 204);
    assertError(await raw(porthole().url, { path: `/v2/spec/mount-target/blobs/${digest}` }), 404, 'BLOB_UNKNOWN');
    assertStatus(await raw(porthole().url, { method: 'DELETE', path: location }), 204);
  });
});
