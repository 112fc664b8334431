import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertError, assertStatus, header } from '../helpers/assert-registry.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import {
  descriptor,
  digestOf,
  makeImage,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  putManifest,
  startUpload,
  withQuery,
  type Image,
} from '../helpers/registry-client.js';
import { streamRequest } from '../helpers/stream-request.js';
import { assertBlobStoreConsistent, fileSize, sessionIds } from './store-checks.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * kill -9 in the middle of writes, then a restart on the same storage root. What must hold:
 * every blob file hashes to its digest, everything acknowledged (201) before the kill is still
 * served byte for byte, nothing half-written is served, the staging dir is cleared at startup,
 * and the registry works normally afterwards.
 */
const MiB = 1024 * 1024;
const octets = { 'content-type': 'application/octet-stream' };

function* piecesOf(data: Buffer, size: number): Generator<Buffer> {
  for (let start = 0; start < data.length; start += size) yield data.subarray(start, start + size);
}

async function assertImageServed(url: string, image: Image, tag: string): Promise<void> {
  for (const reference of [tag, image.manifestDigest]) {
    const manifest = await raw(url, { path: `/v2/${image.name}/manifests/${reference}` });
    assertStatus(manifest, 200);
    assert.ok(manifest.body.equals(image.manifest), `manifest ${reference} of ${image.name} changed`);
  }
  for (const [digest, data] of [
    [image.configDigest, image.config],
    [image.layerDigest, image.layer],
  ] as const) {
    const blob = await raw(url, { path: `/v2/${image.name}/blobs/${digest}` });
    assertStatus(blob, 200);
    assert.ok(blob.body.equals(data), `blob ${digest} of ${image.name} changed`);
  }
}

/** A storage root for one test, and whichever porthole runs on it; both are cleaned up after. */
function crashRoot(): { root: () => string; start: () => Promise<PortholeProcess> } {
  let root: string | undefined;
  let running: PortholeProcess | undefined;
  before(async () => {
    root = await tempDir('crash');
  });
  after(async () => {
    await running?.stop();
    if (root) await cleanup(root);
  });
  const rootOf = (): string => {
    if (!root) throw new Error('no crash root yet');
    return root;
  };
  return {
    root: rootOf,
    start: async () => {
      running = await startPorthole({ root: rootOf() });
      return running;
    },
  };
}

/**
 * Nothing the killed process left in the staging dir survives the restart. The new process may
 * already be staging writes of its own there (its first replica heartbeat, written as it starts
 * listening), so only the names from before the restart are looked for.
 */
async function assertStagingCleared(root: string, leftBehind: string[]): Promise<void> {
  const now = await readdir(join(root, '_tmp'));
  assert.deepEqual(
    now.filter((name) => leftBehind.includes(name)),
    [],
    `the staging dir is cleared at startup (left by the killed process: ${leftBehind.join(', ') || 'nothing'})`,
  );
}

describe('kill -9 during large uploads', () => {
  const storage = crashRoot();
  const STREAMED = 48 * MiB;
  const PIECE = 256 * 1024;

  it('keeps blobs whole, serves nothing partial, clears staging, and lets the session resume', async (t) => {
    const root = storage.root();
    let porthole = await storage.start();
    const kept = await makeImage(porthole.url, 'crash/kept', { tag: 'v1' });

    const streamed = randomBytes(STREAMED);
    const whole = randomBytes(STREAMED / 2);
    const session = await startUpload(porthole.url, 'crash/big');
    const sessionId = session.slice(session.lastIndexOf('/') + 1);
    const sessionData = join(root, 'uploads', sessionId, 'data');
    // A streamed PATCH (no Content-Length) and a single-POST upload, both sent slowly enough
    // to be mid-body when the server dies.
    const patch = streamRequest(porthole.url, { method: 'PATCH', path: session, headers: octets, pieces: piecesOf(streamed, PIECE), pauseMs: 10 });
    const post = streamRequest(porthole.url, {
      method: 'POST',
      path: `/v2/crash/big/blobs/uploads/?digest=${digestOf(whole)}`,
      headers: { ...octets, 'content-length': whole.length },
      pieces: piecesOf(whole, PIECE),
      pauseMs: 10,
    });
    const outcomes = Promise.allSettled([patch.response, post.response]);

    await waitFor('8 MiB of the streamed chunk on disk', async () => (await fileSize(sessionData)) >= 8 * MiB);
    await waitFor('the single-POST upload on disk', async () => {
      for (const id of await sessionIds(root)) {
        if (id !== sessionId && (await fileSize(join(root, 'uploads', id, 'data'))) >= 2 * MiB) return true;
      }
      return false;
    });
    await porthole.kill9();
    const settled = await outcomes;
    assert.deepEqual(
      settled.map((outcome) => outcome.status),
      ['rejected', 'rejected'],
      'both uploads must still have been running when porthole was killed',
    );
    const onDisk = await fileSize(sessionData);
    assert.ok(onDisk >= 8 * MiB && onDisk < STREAMED, `the session holds ${onDisk} bytes`);
    t.diagnostic(`killed with ${(onDisk / MiB).toFixed(1)} of ${STREAMED / MiB} MiB of the streamed chunk on disk`);
    // What a process killed in the middle of an atomic write leaves in the staging dir.
    await writeFile(join(root, '_tmp', 'staged-by-the-killed-process'), 'half a manifest');
    const leftBehind = await readdir(join(root, '_tmp'));

    porthole = await storage.start();
    await assertStagingCleared(root, leftBehind);
    assert.deepEqual(
      await sessionIds(root),
      [sessionId],
      'the single-POST session, whose location its client never learnt, is removed at start-up; the resumable one is kept',
    );
    assert.ok((await assertBlobStoreConsistent(root)) >= 3);
    for (const digest of [digestOf(streamed), digestOf(whole)]) {
      assertError(await raw(porthole.url, { path: `/v2/crash/big/blobs/${digest}` }), 404, 'BLOB_UNKNOWN');
      assertStatus(await raw(porthole.url, { method: 'HEAD', path: `/v2/crash/big/blobs/${digest}` }), 404);
    }
    await assertImageServed(porthole.url, kept, 'v1');

    // The interrupted session reports what reached the disk, and takes the rest from there.
    const status = await raw(porthole.url, { path: session });
    assertStatus(status, 204);
    assert.equal(header(status, 'range'), `0-${onDisk - 1}`);
    const rest = streamed.subarray(onDisk);
    const resumed = await raw(porthole.url, {
      method: 'PATCH',
      path: session,
      headers: { ...octets, 'content-range': `${onDisk}-${STREAMED - 1}`, 'content-length': rest.length },
      body: rest,
      timeoutMs: 60_000,
    });
    assertStatus(resumed, 202);
    const closing = { method: 'PUT', path: withQuery(session, `digest=${digestOf(streamed)}`), headers: { 'content-length': 0 }, timeoutMs: 60_000 };
    const closed = await raw(porthole.url, closing);
    assertStatus(closed, 201);
    const blob = await raw(porthole.url, { path: `/v2/crash/big/blobs/${digestOf(streamed)}`, timeoutMs: 60_000 });
    assertStatus(blob, 200);
    assert.equal(digestOf(blob.body), digestOf(streamed));

    await assertImageServed(porthole.url, await makeImage(porthole.url, 'crash/after', { tag: 'v1' }), 'v1');
    assert.ok((await assertBlobStoreConsistent(root)) >= 6);
  });
});

describe('kill -9 during a storm of manifest PUTs', () => {
  const storage = crashRoot();
  // Each PUT is its own connection: enough to keep many in flight, few enough for a ulimit -n of 1024.
  const COUNT = 240;
  const KILL_AFTER = 40;
  const NAME = 'crash/storm';

  it('serves every acknowledged manifest byte for byte, and no tag points at nothing', async (t) => {
    const root = storage.root();
    let porthole = await storage.start();
    const config = Buffer.from('{"os":"linux","architecture":"amd64"}');
    const layer = randomBytes(4096);
    await pushBlob(porthole.url, NAME, config);
    await pushBlob(porthole.url, NAME, layer);
    const configDescriptor = descriptor(OCI_CONFIG, config);
    const layers = [descriptor(OCI_LAYER, layer)];
    const manifests = Array.from({ length: COUNT }, (_, n) => {
      const json = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers, annotations: { n: String(n) } };
      const bytes = Buffer.from(JSON.stringify(json));
      return { tag: `m${n}`, bytes, digest: digestOf(bytes) };
    });

    const acknowledged: typeof manifests = [];
    const otherStatuses: number[] = [];
    let killing: Promise<void> | undefined;
    const puts = manifests.map(async (manifest) => {
      const response = await putManifest(porthole.url, NAME, manifest.tag, manifest.bytes, OCI_MANIFEST);
      // Any 201 counts, even one read after the kill was sent: porthole answers only once durable.
      if (response.status === 201) acknowledged.push(manifest);
      else otherStatuses.push(response.status);
      if (acknowledged.length >= KILL_AFTER) killing ??= porthole.kill9();
    });
    const outcomes = await Promise.allSettled(puts);
    await (killing ?? porthole.kill9());
    assert.deepEqual(otherStatuses, []);
    assert.ok(acknowledged.length >= KILL_AFTER, `only ${acknowledged.length} manifests were acknowledged`);
    assert.ok(
      outcomes.some((outcome) => outcome.status === 'rejected'),
      'some PUTs must still have been in flight when porthole was killed',
    );

    const cut = outcomes.filter((outcome) => outcome.status === 'rejected').length;
    t.diagnostic(`${acknowledged.length} of ${COUNT} PUTs acknowledged, ${cut} cut off by the kill`);

    const leftBehind = await readdir(join(root, '_tmp'));
    porthole = await storage.start();
    await assertStagingCleared(root, leftBehind);
    assert.ok((await assertBlobStoreConsistent(root)) >= 2 + acknowledged.length);
    for (const manifest of acknowledged) {
      for (const reference of [manifest.tag, manifest.digest]) {
        const served = await raw(porthole.url, { path: `/v2/${NAME}/manifests/${reference}` });
        assertStatus(served, 200);
        assert.ok(served.body.equals(manifest.bytes), `acknowledged manifest ${reference} is not served byte for byte`);
        assert.equal(header(served, 'docker-content-digest'), manifest.digest);
      }
    }
    // Those cut off may or may not have made it, but whatever is there is whole.
    for (const manifest of manifests) {
      const served = await raw(porthole.url, { path: `/v2/${NAME}/manifests/${manifest.digest}` });
      if (served.status === 404) assertError(served, 404, 'MANIFEST_UNKNOWN');
      else assert.ok(served.status === 200 && served.body.equals(manifest.bytes), `${manifest.digest} is served half-written`);
    }
    const tags = (await raw(porthole.url, { path: `/v2/${NAME}/tags/list` })).json() as { tags: string[] };
    assert.ok(tags.tags.length >= acknowledged.length);
    const byTag = new Map(manifests.map((manifest) => [manifest.tag, manifest]));
    for (const tag of tags.tags) {
      const served = await raw(porthole.url, { path: `/v2/${NAME}/manifests/${tag}` });
      assertStatus(served, 200);
      assert.ok(served.body.equals(byTag.get(tag)?.bytes ?? Buffer.alloc(0)), `tag ${tag} points at the wrong bytes`);
    }

    await assertImageServed(porthole.url, await makeImage(porthole.url, NAME, { tag: 'after-the-crash' }), 'after-the-crash');
  });
});
