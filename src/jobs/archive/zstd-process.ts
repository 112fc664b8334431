import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/**
 * The `zstd` command (Debian package zstd): Node 20's zlib has no zstd, and the command is
 * multi-threaded and checksums its frames. A run is one child process; `done` settles with its
 * exit, rejecting with what it said on stderr.
 */
export interface ZstdRun {
  /** Where the input goes (unset when the input is a file descriptor). */
  stdin: Writable | null;
  /** The output (unset when it goes to a file descriptor). */
  stdout: Readable | null;
  done: Promise<void>;
  kill(): void;
}

const STDERR_KEPT = 4096;

function run(args: string[], stdin: number | 'pipe', stdout: number | 'pipe', what: string): ZstdRun {
  const child: ChildProcess = spawn('zstd', args, { stdio: [stdin, stdout, 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < STDERR_KEPT) stderr += chunk.toString('utf8');
  });
  // An early exit makes writes to its stdin fail with EPIPE: the exit code tells why.
  child.stdin?.on('error', () => undefined);
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(err.code === 'ENOENT' ? `${what} needs the zstd command, which is not installed (Debian: apt-get install zstd)` : `${what}: zstd could not start (${err.message})`));
    });
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const said = stderr.trim() ? `: ${stderr.trim().split('\n').join('; ')}` : '';
      reject(new Error(`${what}: zstd ${signal === null ? `exited with ${String(code)}` : `was killed (${signal})`}${said}`));
    });
  });
  done.catch(() => undefined);
  return { stdin: child.stdin, stdout: child.stdout, done, kill: () => void child.kill('SIGKILL') };
}

/** Compresses what is written to stdin into the open file `fd`. */
export function zstdCompressInto(fd: number, level: number): ZstdRun {
  return run(['-q', '-c', `-${level}`, '-T0'], 'pipe', fd, 'compressing the archive');
}

/** Decompresses what is written to stdin onto stdout. */
export function zstdDecompress(): ZstdRun {
  return run(['-q', '-d', '-c'], 'pipe', 'pipe', 'decompressing the archive');
}
