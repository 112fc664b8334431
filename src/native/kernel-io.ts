import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The native addon (native/kernel-io.c): kernel calls Node.js does not expose. `npm ci` builds it
 * when python3, make and a C compiler are present; without it porthole still works, copying blob
 * downloads through user space and flushing uploads with fdatasync.
 */
export interface KernelIo {
  /** sendfile(2) on a pool thread until `length` bytes are sent or the (non-blocking) socket is full. */
  send(outFd: number, inFd: number, offset: number, length: number, done: (error: string | null, sent: number) => void): void;
  /** Calls `done` on the event loop once `fd` can be written to; the handle cancels it. */
  waitWritable(fd: number, done: (error: string | null) => void): object;
  cancelWait(handle: object): void;
  /** A duplicate of `fd` (close-on-exec). */
  dup(fd: number): number;
  /** sync_file_range(SYNC_FILE_RANGE_WRITE) on a pool thread: starts, without awaiting, the write-back of a range. */
  startWriteback(fd: number, offset: number, length: number, done: (error: string | null) => void): void;
}

const ADDON_FILE = join('build', 'Release', 'porthole_kernel_io.node');

/** The package root: the nearest folder up from this file that holds package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dir;
}

let loaded: { addon?: KernelIo; problem?: string } | undefined;

/** The addon, or why there is none. Loaded once, on first use. */
export function kernelIo(): { addon?: KernelIo; problem?: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') return (loaded = { problem: 'the kernel-io addon is for Linux only' });
  const file = join(packageRoot(), ADDON_FILE);
  if (!existsSync(file)) return (loaded = { problem: `${ADDON_FILE} was not built (npm ci needs python3, make and a C compiler)` });
  try {
    return (loaded = { addon: createRequire(import.meta.url)(file) as KernelIo });
  } catch (err) {
    return (loaded = { problem: `${ADDON_FILE} did not load: ${(err as Error).message}` });
  }
}

/** An Error with the errno name the addon reported as its code. */
export function errnoError(code: string, what: string): NodeJS.ErrnoException {
  const err = new Error(`${what}: ${code}`) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}
