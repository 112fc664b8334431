import { fdatasync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { errnoError, kernelIo } from '../../native/kernel-io.js';

/**
 * Uploads are made durable by one fsync when they are committed. Left alone, the kernel writes
 * nothing of an upload back before then (its background write-back waits for gigabytes of dirty
 * pages or 30 s), so that fsync had the whole blob to write while the client waited: about half
 * of a 200 MiB skopeo push on this disk. Starting the write-back as the bytes arrive overlaps the
 * disk with the network and leaves the commit only the tail.
 *
 * With the kernel-io addon this is sync_file_range(SYNC_FILE_RANGE_WRITE), which queues the
 * range for the disk without waiting for it; without it, fdatasync, which waits, so it runs
 * less often and fewer at a time.
 */
const NATIVE = { everyBytes: 2 * 1024 * 1024, maxRunning: 2 };
const FALLBACK = { everyBytes: 8 * 1024 * 1024, maxRunning: 1 };

/**
 * Each running flush holds one of libuv's thread-pool threads (4 by default, shared with every
 * file read and write), so few run at once, process-wide.
 */
let running = 0;

function policy(): typeof NATIVE {
  return kernelIo().addon ? NATIVE : FALLBACK;
}

/** Whether `unflushed` bytes are worth a flush now. */
export function writebackDue(unflushed: number): boolean {
  const { everyBytes, maxRunning } = policy();
  return unflushed >= everyBytes && running < maxRunning;
}

/**
 * Starts the write-back of `length` bytes of `fd` from `offset`. Resolves (never rejects) with
 * the error it met, if any: an fdatasync's write-back error is reported once per open file, so
 * the caller must keep it and fail the upload with it, or the commit's own fsync could succeed
 * over lost data.
 */
export function startWriteback(fd: number, offset: number, length: number): Promise<Error | undefined> {
  running += 1;
  const addon = kernelIo().addon;
  return new Promise<Error | undefined>((resolve) => {
    if (addon) addon.startWriteback(fd, offset, length, (error) => resolve(error ? errnoError(error, 'sync_file_range failed') : undefined));
    else fdatasync(fd, (err) => resolve(err ?? undefined));
  }).finally(() => {
    running -= 1;
  });
}

/**
 * Filesystems whose pages live in memory only (statfs f_type): there is no device to write back
 * to, so an early write-back does nothing useful, yet each one still takes a thread-pool thread
 * and a promise: 512 of them per GiB. The commit's fsync stays, whatever the filesystem.
 */
const MEMORY_FILESYSTEMS = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);

/**
 * Whether early write-back helps files written under `dir`: false on tmpfs and ramfs; true when
 * the filesystem cannot be told (a wasted flush costs little, a missing one a slow commit).
 */
export async function writebackUseful(dir: string): Promise<boolean> {
  try {
    return !MEMORY_FILESYSTEMS.has((await statfs(dir)).type);
  } catch {
    return true;
  }
}
