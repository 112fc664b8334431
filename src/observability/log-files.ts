import { once } from 'node:events';
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

  /**
   * Rejects when a file cannot be opened for append, so start-up can refuse it. Resolves only
   * once the file is open: pino's exit hook throws on a stream still opening its file, which
   * turned a start-up refused a moment later (log.audit after log.output) from exit 2 into a crash.
   */
  static async open(output: string): Promise<LogFile> {
    if (output === 'stdout') return new LogFile(pino.destination({ dest: 1, sync: false }), undefined);
    if (output === 'stderr') return new LogFile(pino.destination({ dest: 2, sync: false }), undefined);
    closeSync(openSync(output, 'a', 0o600));
    // `mode` applies when reopen creates the file anew after a rotation (sonic-boom option).
    const options = { dest: output, append: true, mkdir: false, sync: false, mode: 0o600 };
    const stream = pino.destination(options as Parameters<typeof pino.destination>[0]);
    await once(stream, 'ready');
    return new LogFile(stream, output);
  }

  reopen(): void {
    if (this.path !== undefined) this.stream.reopen();
  }

  /**
   * Resolves once every line handed to the stream so far is written. sonic-boom's own flush()
   * does nothing with minLength 0 (each line goes out at once), and pino's exit hook writes what
   * is left synchronously, possibly ahead of a write still in flight: lines came out of order or
   * could be lost. Instead, wait for 'drain', which comes when the writer has nothing left: the
   * empty write makes sure there is a write to end in one even when the stream is idle already.
   */
  flush(): Promise<void> {
    const stream = this.stream;
    return new Promise((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('error', done);
        stream.off('ready', writeNothing);
        resolve();
      };
      // A file still being opened writes only once it is open.
      const writeNothing = (): void => {
        try {
          stream.write('');
        } catch {
          // Already closed: nothing more can be written.
          done();
        }
      };
      stream.on('drain', done);
      stream.on('error', done);
      stream.once('ready', writeNothing);
      writeNothing();
    });
  }
}
