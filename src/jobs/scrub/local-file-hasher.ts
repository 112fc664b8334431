import { close, open, read } from 'node:fs';
import { join } from 'node:path';
import { newHash } from '../../core/digest.js';
import type { ContentHasher, HashResult } from './content-hasher.js';
import { isMediaError } from './read-errors.js';
import { isMissingObject } from '../../storage/driver.js';

/**
 * Bytes per read: large enough that the cost of a read (a trip through libuv's thread pool) and
 * of one hash update are small beside hashing the bytes, small enough that a few in flight cost
 * nothing.
 */
export const READ_BYTES = 1024 * 1024;

// The callback API, not fs/promises': no FileHandle object and one promise per read, for the
// thousands of small files (configs, manifests) a storage holds beside its layers.
function openForReading(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buffer, 0, buffer.length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));
}

/**
 * Hashes files under a filesystem storage root with large positioned reads into buffers reused
 * from one file to the next (no allocation per read, no stream machinery), reading ahead: while
 * one buffer is hashed the next read fills the other, so the disk (or the page cache's copy) and
 * the hash overlap even within one file. A pair of buffers belongs to one file at a time.
 */
export function localFileHasher(root: string): ContentHasher {
  const sparePairs: Array<[Buffer, Buffer]> = [];
  return {
    async hash(path, algorithm, signal): Promise<HashResult> {
      let fd: number;
      try {
        fd = await openForReading(join(root, ...path.split('/')));
      } catch (err) {
        if (isMissingObject(err)) return { state: 'missing', bytes: 0 };
        if (isMediaError(err)) return { state: 'unreadable', bytes: 0, error: (err as Error).message };
        throw err;
      }
      const buffers = sparePairs.pop() ?? [Buffer.allocUnsafeSlow(READ_BYTES), Buffer.allocUnsafeSlow(READ_BYTES)];
      const hash = newHash(algorithm);
      let bytes = 0;
      let filling: 0 | 1 = 0;
      let pending = readAt(fd, buffers[0], 0);
      let inFlight = true;
      try {
        for (;;) {
          const filled = await pending;
          inFlight = false;
          const current = buffers[filling];
          // A short read is the end of a regular file: no read more to find that out.
          if (filled === READ_BYTES && !signal.aborted) {
            filling = filling === 0 ? 1 : 0;
            pending = readAt(fd, buffers[filling], bytes + filled);
            inFlight = true;
          }
          hash.update(current.subarray(0, filled));
          bytes += filled;
          if (filled < READ_BYTES) return { state: 'hashed', hex: hash.digest('hex'), bytes };
          if (signal.aborted) return { state: 'stopped', bytes };
        }
      } catch (err) {
        if (isMediaError(err)) return { state: 'unreadable', bytes, error: (err as Error).message };
        throw err;
      } finally {
        // A read still in flight must neither fill a buffer that the next file has, nor meet a closed descriptor.
        if (inFlight) await pending.catch(() => undefined);
        sparePairs.push(buffers);
        // Not waited for: nothing depends on it, and a small file would wait as long for it as for its read.
        close(fd, () => undefined);
      }
    },
  };
}
