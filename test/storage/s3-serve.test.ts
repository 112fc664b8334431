/**
 * porthole serve on S3 (s3rver): start-up with a bucket it cannot use, and storage.s3.redirect,
 * blob downloads answered with 307 and a presigned URL of the blob's object, which the client
 * then fetches from S3 itself (s3rver checks no signature: that the URL is signed right is the
 * SDK's part, not something this test can see).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { makeImage } from '../helpers/registry-client.js';
import { startS3rver, type S3rverProcess } from '../helpers/s3rver-process.js';
import { configWithStorage, newBucket } from '../helpers/test-storage.js';
import { runCli } from '../helpers/run-cli.js';

describe('porthole serve on S3: start-up and redirected downloads', { timeout: 60_000 }, () => {
  let s3: S3rverProcess;
  let porthole: PortholeProcess;
  let root: string;

  before(async () => {
    s3 = await startS3rver();
    root = await tempDir('redirect');
    porthole = await startPorthole({ root, storage: await newBucket(s3.endpoint), config: 'storage: { s3: { redirect: true } }' });
  });
  after(async () => {
    await porthole?.stop();
    await s3?.stop();
    if (root) await cleanup(root);
  });

  test('a bucket that does not exist stops start-up with exit 2, naming storage.s3.bucket', async () => {
    const storage = { ...(await newBucket(s3.endpoint)), bucket: 'never-made' };
    const config = configWithStorage(undefined, storage) ?? '';
    const dir = await tempDir('no-bucket');
    try {
      await writeFile(join(dir, 'porthole.yaml'), config);
      const result = await runCli(['serve', '--config', join(dir, 'porthole.yaml'), '--port', '0'], { timeoutMs: 30_000 });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /storage\.s3\.bucket: cannot use bucket "never-made" at http:\/\/127\.0\.0\.1:\d+ \(NotFound, HTTP 404\)/);
    } finally {
      await cleanup(dir);
    }
  });

  test('GET of a blob answers 307 to a URL that serves its bytes, ranges included; HEAD and unknown blobs are answered here', async () => {
    const image = await makeImage(porthole.url, 'redirect/image', { tag: 'v1', layerSize: 100_000 });
    const answer = await raw(porthole.url, { path: `/v2/redirect/image/blobs/${image.layerDigest}` });
    assert.equal(answer.status, 307);
    assert.equal(answer.headers['docker-content-digest'], image.layerDigest);
    const location = answer.headers.location ?? '';
    assert.ok(location.startsWith(`${s3.endpoint}/`), `a URL of the S3 server: ${location}`);
    assert.match(location, /X-Amz-Signature=/);
    const fetched = await fetch(location);
    assert.equal(fetched.status, 200);
    assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(image.layer));
    const ranged = await fetch(location, { headers: { range: 'bytes=10-19' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(image.layer.subarray(10, 20)));

    const head = await raw(porthole.url, { method: 'HEAD', path: `/v2/redirect/image/blobs/${image.layerDigest}` });
    assert.equal(head.status, 200);
    const unknown = await raw(porthole.url, { path: `/v2/redirect/image/blobs/sha256:${'0'.repeat(64)}` });
    assert.equal(unknown.status, 404);
    const elsewhere = await raw(porthole.url, { path: `/v2/redirect/other/blobs/${image.layerDigest}` });
    assert.equal(elsewhere.status, 404, 'a blob not linked into the repository is not redirected to');
  });
});
