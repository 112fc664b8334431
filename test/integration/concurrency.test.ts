import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanup, startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const CLIENTS = 16;

/** POST + one streamed PATCH + PUT, the way skopeo pushes a blob. */
async function pushBlob(url: string, repo: string, data: Buffer): Promise<number> {
  const start = await raw(url, { method: 'POST', path: `/v2/${repo}/blobs/uploads/` });
  assert.equal(start.status, 202);
  const location = String(start.headers.location);
  const patch = await raw(url, { method: 'PATCH', path: location, body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(patch.status, 202);
  const put = await raw(url, { method: 'PUT', path: `${location}?digest=${sha256(data)}` });
  return put.status;
}

describe('concurrent pushes', () => {
  let p: PortholeProcess;
  before(async () => {
    p = await startPorthole();
  });
  after(async () => {
    await p.stop();
    await cleanup(p.root);
  });

  it(`${CLIENTS} clients pushing the same blob to one repository all succeed and leave one intact copy`, async () => {
    const data = randomBytes(512 * 1024);
    const statuses = await Promise.all(Array.from({ length: CLIENTS }, () => pushBlob(p.url, 'same/blob', data)));
    assert.deepEqual(statuses, Array(CLIENTS).fill(201));
    const digest = sha256(data);
    const hex = digest.slice('sha256:'.length);
    const stored = await readFile(join(p.root, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'));
    assert.equal(sha256(stored), digest);
    const served = await raw(p.url, { path: `/v2/same/blob/blobs/${digest}` });
    assert.equal(served.status, 200);
    assert.equal(sha256(served.body), digest);
    assert.deepEqual(await readdir(join(p.root, 'uploads')), [], 'no upload session is left behind');
  });

  it(`${CLIENTS} clients pushing the same blob to different repositories each get it linked`, async () => {
    const data = randomBytes(256 * 1024);
    const repos = Array.from({ length: CLIENTS }, (_, i) => `many/repo${i}`);
    const statuses = await Promise.all(repos.map((repo) => pushBlob(p.url, repo, data)));
    assert.deepEqual(statuses, Array(CLIENTS).fill(201));
    for (const repo of repos) assert.equal((await raw(p.url, { method: 'HEAD', path: `/v2/${repo}/blobs/${sha256(data)}` })).status, 200, repo);
  });

  it(`${CLIENTS} clients pushing one manifest under different tags, and the same tag, leave a consistent repository`, async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = randomBytes(4096);
    assert.equal(await pushBlob(p.url, 'same/manifest', config), 201);
    assert.equal(await pushBlob(p.url, 'same/manifest', layer), 201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    });
    const headers = { 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
    const puts = await Promise.all([
      ...Array.from({ length: CLIENTS }, (_, i) => raw(p.url, { method: 'PUT', path: `/v2/same/manifest/manifests/t${i}`, body: manifest, headers })),
      ...Array.from({ length: CLIENTS }, () => raw(p.url, { method: 'PUT', path: '/v2/same/manifest/manifests/shared', body: manifest, headers })),
    ]);
    assert.ok(puts.every((r) => r.status === 201 && r.headers['docker-content-digest'] === sha256(manifest)));
    const tags = (await raw(p.url, { path: '/v2/same/manifest/tags/list' })).json() as { tags: string[] };
    assert.equal(tags.tags.length, CLIENTS + 1);
    for (const tag of tags.tags) {
      const got = await raw(p.url, { path: `/v2/same/manifest/manifests/${tag}` });
      assert.equal(got.body.toString(), manifest, tag);
    }
  });
});
