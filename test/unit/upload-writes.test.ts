import assert from 'node:assert/strict';
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { drainChunks } from '../../src/runtime/drain-chunks.js';
import { BatchedFdWriter } from '../../src/storage/filesystem/batched-fd-writer.js';
import { writebackUseful } from '../../src/storage/filesystem/early-writeback.js';
import { seededBytes } from '../fixtures/seeded-bytes.js';

/** Splits `data` into chunks of irregular sizes (1 byte to ~300 KiB), so batch edges fall mid-chunk. */
function irregularChunks(data: Buffer): Buffer[] {
  const sizes = [1, 65536, 300_001, 7, 1_048_576, 123_457, 65_535];
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const size = sizes[i % sizes.length] as number;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('upload writes', () => {
  it('BatchedFdWriter puts every byte at its place across batch edges, after a given start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'porthole-writer-'));
    try {
      const file = join(dir, 'data');
      const prefix = Buffer.from('kept-prefix');
      const body = seededBytes('batched-writer', 5 * 1024 * 1024 + 4321);
      const fd = openSync(file, 'w+');
      try {
        const head = new BatchedFdWriter(fd, 0);
        await head.add(prefix);
        await head.finish();
        const writer = new BatchedFdWriter(fd, prefix.length);
        for (const chunk of irregularChunks(body)) await writer.add(chunk);
        await writer.finish();
        assert.equal(writer.written, body.length);
      } finally {
        closeSync(fd);
      }
      assert.ok(readFileSync(file).equals(Buffer.concat([prefix, body])));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('BatchedFdWriter keeps a write that failed while nobody waited (a full disk) for the next chunk, never as an unhandled rejection', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'porthole-writer-'));
    const file = join(dir, 'data');
    writeFileSync(file, '');
    // Read-only: every write fails (EBADF), as a write fails with ENOSPC on a full disk.
    const fd = openSync(file, 'r');
    try {
      const writer = new BatchedFdWriter(fd, 0);
      // A whole batch: its write starts, and the caller only waits for the write before it.
      await writer.add(Buffer.alloc(1024 * 1024));
      // The write fails while the next batch fills and nothing waits on it; an unhandled
      // rejection here ends the process (and fails this test).
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.throws(() => writer.add(Buffer.alloc(10)), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
      await assert.rejects(writer.finish(), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
      await writer.settled();
    } finally {
      closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('drainChunks hands over every chunk in order, waiting while a take is pending', async () => {
    const body = seededBytes('drain', 512 * 1024);
    const taken: Buffer[] = [];
    let pending = 0;
    await drainChunks(Readable.from(irregularChunks(body)), async (chunk) => {
      pending += 1;
      assert.equal(pending, 1, 'never two takes at once');
      await new Promise((resolve) => setImmediate(resolve));
      taken.push(Buffer.from(chunk));
      pending -= 1;
    });
    assert.ok(Buffer.concat(taken).equals(body));
  });

  it('drainChunks rejects when the source is cut off, and with the error a take threw', async () => {
    const cut = new PassThrough();
    const draining = drainChunks(cut, () => undefined);
    cut.write(Buffer.alloc(10));
    cut.destroy();
    await assert.rejects(draining, (err: NodeJS.ErrnoException) => err.code === 'ERR_STREAM_PREMATURE_CLOSE');

    const refused = new Error('too large');
    await assert.rejects(
      drainChunks(Readable.from([Buffer.alloc(5), Buffer.alloc(5)]), () => {
        throw refused;
      }),
      (err) => err === refused,
    );
  });

  it('early write-back is skipped on a filesystem in memory only (tmpfs), kept elsewhere and where statfs fails', async (t) => {
    if ((await statfs(tmpdir())).type === 0x01021994) t.skip('the temp dir is itself on tmpfs');
    else assert.equal(await writebackUseful(tmpdir()), true);
    assert.equal(await writebackUseful(join(tmpdir(), 'no-such-directory-here')), true);
    const shm = await statfs('/dev/shm').catch(() => undefined);
    if (shm?.type === 0x01021994) assert.equal(await writebackUseful('/dev/shm'), false);
  });
});
