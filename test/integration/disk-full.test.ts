import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertError, assertStatus } from '../helpers/assert-registry.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { raw } from '../helpers/raw-http.js';
import { descriptor, digestOf, makeImage, OCI_CONFIG, OCI_MANIFEST, putManifest, startUpload, withQuery, type Image } from '../helpers/registry-client.js';
import { parseJsonLines, type LogLine } from '../logging/json-lines.js';
import { skipUnlessRoot } from '../helpers/tools.js';

/**
 * A disk that fills up for real: porthole's storage root is on a 16 MiB tmpfs of its own (a
 * mount, so root only: skipped loudly elsewhere, a failure under CI=true, which runs as root).
 * Every write that meets the full disk is answered 507 STORAGE_FULL, leaves nothing behind (no
 * session, no staging file: the room comes back at once), sets porthole_storage_full, and the log
 * says so once, not once per request; once there is room again, pushes work and the gauge drops.
 */
const MiB = 1024 * 1024;
const NAME = 'full/app';
const octets = { 'content-type': 'application/octet-stream' };

async function freeBytes(path: string): Promise<number> {
  const info = await statfs(path);
  return info.bavail * info.bsize;
}

/** Appends to `path` until the filesystem refuses: 1 MiB pieces, then 4 KiB ones (tmpfs allocates pages). */
async function fillUp(path: string): Promise<void> {
  const file = await open(path, 'a');
  try {
    for (const piece of [MiB, 4096]) {
      const data = Buffer.alloc(piece, 1);
      for (;;) {
        try {
          await file.write(data);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await file.close();
  }
}

function storageFullGauge(metrics: string): number | undefined {
  return new Exposition(metrics).value('porthole_storage_full');
}

describe('a full disk', { skip: skipUnlessRoot('mounting a small tmpfs for the storage root') }, () => {
  let mountPoint: string;
  let root: string;
  let porthole: PortholeProcess;
  let image: Image;

  before(async () => {
    mountPoint = await tempDir('disk-full');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountPoint]);
    root = join(mountPoint, 'data');
    // One heartbeat, at start: a later one caught between its staging file and its rename would
    // show in the checks below that no staging file is left.
    porthole = await startPorthole({ root, args: ['--metrics'], config: 'storage:\n  heartbeatInterval: 1h\n' });
    image = await makeImage(porthole.url, NAME, { tag: 'v1' });
  });

  after(async () => {
    await porthole?.stop();
    if (mountPoint) {
      execFileSync('umount', ['-l', mountPoint]);
      await cleanup(mountPoint);
    }
  });

  const metrics = async (): Promise<string> => (await raw(porthole.url, { path: '/metrics' })).body.toString('utf8');
  const storageFullLines = (): LogLine[] => parseJsonLines<LogLine>(porthole.stdout(), 'stdout').filter((line) => line.msg?.startsWith('storage is full'));

  async function assertNothingLeftBehind(freeBefore: number): Promise<void> {
    assert.deepEqual(await readdir(join(root, 'uploads')).catch(() => []), [], 'no upload session is left');
    assert.deepEqual(await readdir(join(root, '_tmp')), [], 'no staging file is left');
    // Within a few pages: the room the failed write took is free again.
    assert.ok((await freeBytes(mountPoint)) >= freeBefore - 64 * 1024, 'the room the failed write took is back');
  }

  it('refuses a single-POST upload larger than the room left with 507 STORAGE_FULL, and keeps nothing of it', async () => {
    const freeBefore = await freeBytes(mountPoint);
    const data = randomBytes(freeBefore + MiB);
    const answer = await raw(porthole.url, {
      method: 'POST',
      path: `/v2/${NAME}/blobs/uploads/?digest=${digestOf(data)}`,
      headers: { ...octets, 'content-length': data.length },
      body: data,
      timeoutMs: 30_000,
    });
    assertError(answer, 507, 'STORAGE_FULL');
    assert.match(answer.json().errors[0].message, /storage is full/);
    await assertNothingLeftBehind(freeBefore);
    assert.equal(storageFullGauge(await metrics()), 1);
  });

  it('ends a chunked session whose chunk does not fit, and gives back the room of its earlier chunks', async () => {
    const freeBefore = await freeBytes(mountPoint);
    const session = await startUpload(porthole.url, NAME);
    const first = randomBytes(MiB);
    assertStatus(
      await raw(porthole.url, { method: 'PATCH', path: session, headers: { ...octets, 'content-range': `0-${MiB - 1}`, 'content-length': MiB }, body: first }),
      202,
    );
    const tooMuch = randomBytes(freeBefore);
    const answer = await raw(porthole.url, {
      method: 'PATCH',
      path: session,
      headers: { ...octets, 'content-range': `${MiB}-${MiB + tooMuch.length - 1}`, 'content-length': tooMuch.length },
      body: tooMuch,
      timeoutMs: 30_000,
    });
    assertError(answer, 507, 'STORAGE_FULL');
    assertError(await raw(porthole.url, { path: session }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await assertNothingLeftBehind(freeBefore);
  });

  it('answers manifest PUTs and mounts with 507 while no room is left, leaving no staging file', async () => {
    await fillUp(join(mountPoint, 'filler'));
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, image.config), layers: [], annotations: { full: 'yes' } }),
    );
    assertError(await putManifest(porthole.url, NAME, 'full', manifest, OCI_MANIFEST), 507, 'STORAGE_FULL');
    const mount = await raw(porthole.url, {
      method: 'POST',
      path: `/v2/full/mounted/blobs/uploads/?mount=${image.layerDigest}&from=${NAME}`,
      headers: { 'content-length': 0 },
    });
    assertError(mount, 507, 'STORAGE_FULL');
    assert.deepEqual(await readdir(join(root, '_tmp')), [], 'no staging file is left');
    assertStatus(await raw(porthole.url, { path: `/v2/${NAME}/manifests/v1` }), 200);
    assert.equal(storageFullGauge(await metrics()), 1);
    const logged = storageFullLines();
    assert.equal(logged.length, 1, `one "storage is full" line for all the failures of this minute, not ${logged.length}`);
    assert.equal(logged[0]?.level, 'error');
  });

  it('takes pushes again once there is room, and the gauge and the log say so', async () => {
    await rm(join(mountPoint, 'filler'));
    const after = await makeImage(porthole.url, 'full/after', { tag: 'v1' });
    assertStatus(await raw(porthole.url, { path: `/v2/full/after/manifests/${after.manifestDigest}` }), 200);
    const session = await startUpload(porthole.url, NAME);
    const data = randomBytes(2 * MiB);
    assertStatus(await raw(porthole.url, { method: 'PUT', path: withQuery(session, `digest=${digestOf(data)}`), headers: { ...octets, 'content-length': data.length }, body: data }), 201);
    assert.equal(storageFullGauge(await metrics()), 0);
    assert.ok(
      parseJsonLines<LogLine>(porthole.stdout(), 'stdout').some((line) => line.msg === 'storage has room again'),
      'the log says that storage has room again',
    );
    await mkdir(join(root, 'uploads'), { recursive: true });
    assert.deepEqual(await readdir(join(root, 'uploads')), []);
  });
});
