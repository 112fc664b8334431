import { closeSync, openSync } from 'node:fs';
import pino from 'pino';

type Destination = ReturnType<typeof pino.destination>;

/**
 * One log destination: stdout, stderr or a file. Files are created with mode 0600 and opened for
 * append; `reopen` (on SIGHUP) lets logrotate move a file away and have porthole write a new one
 * without losing or repeating a line: lines written meanwhile wait in the buffer.
 */
export class LogFile {
  readonly stream: Destination;
  readonly path: string | undefined;

  private constructor(stream: Destination, path: string | undefined) {
    this.stream = stream;
    this.path = path;
  }

  /** Throws (synchronously) when a file cannot be opened for append, so start-up can refuse it. */
  static open(output: string): LogFile {
    if (output === 'stdout') return new LogFile(pino.destination({ dest: 1, sync: false }), undefined);
    if (output === 'stderr') return new LogFile(pino.destination({ dest: 2, sync: false }), undefined);
    closeSync(openSync(output, 'a', 0o600));
    // `mode` applies when reopen creates the file anew after a rotation (sonic-boom option).
    const options = { dest: output, append: true, mkdir: false, sync: false, mode: 0o600 };
    return new LogFile(pino.destination(options as Parameters<typeof pino.destination>[0]), output);
  }

  reopen(): void {
    if (this.path !== undefined) this.stream.reopen();
  }

  /** Resolves once every buffered line is written. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.stream.flush(() => resolve());
      } catch {
        // Not open yet or already closed: nothing buffered to wait for.
        resolve();
      }
    });
  }
}
