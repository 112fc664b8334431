import { constants, fstatSync, openSync } from 'node:fs';

/**
 * A descriptor porthole's log writes stdout or stderr (`fd`) through, which never blocks a
 * thread. sonic-boom writes with fs.write, on a thread-pool thread; on a blocking pipe that no
 * one reads (a log collector that hangs, `porthole serve | sleep`), that thread stays in write(2)
 * for good, and process.exit, which waits for the pool's threads, with it: SIGTERM never ended
 * porthole. On a non-blocking descriptor the write fails with EAGAIN instead, and sonic-boom tries
 * again later (log-files.ts bounds how long the shutdown waits for it).
 *
 *  - a pipe (a FIFO: a container runtime's, a shell's): opened anew through /proc, non-blocking,
 *    a file description of porthole's own, so whoever else writes to that pipe still blocks as
 *    before;
 *  - a socket (systemd's journal): it cannot be opened anew, so its description is made
 *    non-blocking as Node.js does whenever a program first uses process.stdout or process.stderr
 *    on a socket (libuv opens it non-blocking);
 *  - anything else (a file, a terminal, /dev/null): `fd` itself; none of them waits on a reader.
 */
export function nonBlockingStdio(fd: 1 | 2): number {
  let stats;
  try {
    stats = fstatSync(fd);
  } catch {
    // Not open: left to the writes to report.
    return fd;
  }
  if (stats.isFIFO()) {
    try {
      return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      // No /proc, or no reader left (ENXIO): the writes themselves say so (EPIPE).
      return fd;
    }
  }
  if (stats.isSocket()) void (fd === 1 ? process.stdout : process.stderr);
  return fd;
}
