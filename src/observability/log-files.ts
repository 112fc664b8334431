import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import pino from 'pino';

type Destination = ReturnType<typeof pino.destination>;

/**
 * What LogFile reads of sonic-boom's (4.x) state, which its API does not tell: the bytes handed
 * to it and not yet written (buffered, or in a write under way), and whether a write (or the
 * opening of a file) is under way. test/logging/log-file.test.ts fails should either change.
 */
interface WriterState {
  _len: number;
  _writing: boolean;
  destroyed: boolean;
}

/**
 * The longest a line of a buffered destination waits in memory before its write(2) starts:
 * lines that come meanwhile go out with it, in one write. docs/logging.md states it.
 */
export const WRITE_DELAY_MS = 5;

/**
 * Written at once when this much is waiting, without waiting for the delay. sonic-boom wants
 * its minLength below its maxWrite (16 KiB, the most it writes at a time, docker's line buffer).
 */
const BUFFER_BYTES = 16 * 1024 - 1;
/** sonic-boom's maxWrite: lines are handed to it in batches of at most this (a longer line alone). */
const MAX_WRITE_BYTES = 16 * 1024;

export interface LogFileOptions {
  /**
   * true (the default): lines wait up to WRITE_DELAY_MS (or until BUFFER_BYTES are waiting) so
   * that many go out in one asynchronous write. false, the audit log's: a file is written
   * synchronously, each line in the kernel before write() returns, so that no abrupt end
   * (SIGKILL, the OOM killer, a crash) loses a line already handed over; stdout and stderr, which
   * may be pipes nobody reads for a while, are never written synchronously: each line's write
   * starts at once, asynchronously.
   */
  buffered?: boolean;
}

/**
 * Set as the process exits (process.exit, the end of the event loop, an uncaught exception),
 * before pino's exit hook writes what is left synchronously.
 */
let exiting = false;
let exitWatched = false;

function watchExit(): void {
  if (exitWatched) return;
  exitWatched = true;
  process.prependListener('exit', () => {
    exiting = true;
  });
}

/**
 * One log destination: stdout, stderr or a file. Files are created with mode 0600 and opened for
 * append; `reopen` (on SIGHUP) lets logrotate move a file away and have porthole write a new one
 * without losing or repeating a line: lines written meanwhile wait in the buffer.
 *
 * The log's writes are asynchronous (a slow pipe or disk never blocks the event loop) and
 * batched: a write(2) per line cost more CPU than the rest of an access line, in a sandbox where
 * every system call is expensive. The audit log's are synchronous (LogFileOptions). Lines stay
 * in order throughout.
 */
export class LogFile {
  readonly stream: Destination;
  readonly path: string | undefined;
  readonly buffered: boolean;
  private timer: NodeJS.Immediate | undefined;
  /** A delayed write found another under way: it starts when that one is done. */
  private writeAfterDrain = false;
  /**
   * Lines logged in this turn of the event loop, not yet handed to sonic-boom: it measures the
   * UTF-8 length of its whole buffer on every write, which flattens it each time (16 KiB copied
   * per line near the end of a batch, most of an access line's garbage); joined once here, a
   * batch is measured and copied once.
   */
  private pending: string[] = [];
  /** Their UTF-8 bytes. */
  private pendingLength = 0;
  /** sonic-boom's own write(), under the one delayWrites puts in its place. */
  private handTo: ((data: string) => boolean) | undefined;

  private constructor(stream: Destination, path: string | undefined, buffered: boolean) {
    this.stream = stream;
    this.path = path;
    this.buffered = buffered;
    watchExit();
    this.keepOrderOnFlushSync();
    if (buffered) this.delayWrites();
    else if (path !== undefined) this.reportFailedWrites();
  }

  /**
   * Rejects when a file cannot be opened for append, so start-up can refuse it. Resolves only
   * once the file is open: pino's exit hook throws on a stream still opening its file, which
   * turned a start-up refused a moment later (log.audit after log.output) from exit 2 into a crash.
   */
  static async open(output: string, options: LogFileOptions = {}): Promise<LogFile> {
    const buffered = options.buffered ?? true;
    const minLength = buffered ? BUFFER_BYTES : 0;
    if (output === 'stdout') return new LogFile(pino.destination({ dest: 1, sync: false, minLength }), undefined, buffered);
    if (output === 'stderr') return new LogFile(pino.destination({ dest: 2, sync: false, minLength }), undefined, buffered);
    closeSync(openSync(output, 'a', 0o600));
    // `mode` applies when reopen creates the file anew after a rotation (sonic-boom option).
    const destination = { dest: output, append: true, mkdir: false, sync: !buffered, minLength, mode: 0o600 };
    const stream = pino.destination(destination as Parameters<typeof pino.destination>[0]);
    await once(stream, 'ready');
    return new LogFile(stream, output, buffered);
  }

  reopen(): void {
    // Lines logged before the reopen belong where they were before it.
    this.handOver();
    if (this.path !== undefined) this.stream.reopen();
  }

  /** Bytes handed to this destination and not yet written: collected here, or waiting in sonic-boom. */
  get waiting(): number {
    return this.pendingLength + this.state._len;
  }

  /** Hands the lines collected so far to sonic-boom, in one string. */
  private handOver(): void {
    if (this.handTo === undefined || this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    this.handTo.call(this.stream, text);
  }

  private get state(): WriterState {
    return this.stream as unknown as WriterState;
  }

  /**
   * Starts the write of every waiting line now, or as soon as the write under way is done.
   * sonic-boom's flush() does nothing while a write is under way, and when that write ends it
   * goes on only with at least minLength waiting: the rest would wait for the next line.
   */
  private writeNow = (): void => {
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
    this.handOver();
    const state = this.state;
    if (state.destroyed || state._len === 0) return;
    if (state._writing) {
      this.writeAfterDrain = true;
      return;
    }
    // With minLength 0 (unbuffered) sonic-boom's flush() does nothing, and lines wait only
    // after a failed write: an empty write retries it.
    if (this.buffered) this.stream.flush();
    else this.stream.write('');
  };

  /**
   * Arms the delayed write as a line lands in an empty buffer. A line is written at the end of
   * the event-loop turn that logged it (well within WRITE_DELAY_MS), with every other line of
   * that turn, or as BUFFER_BYTES are waiting. The timer is unref'd: it does not keep a finished
   * command alive (what waits then is written by flush() or by pino's exit hook).
   */
  private delayWrites(): void {
    const stream = this.stream;
    this.handTo = stream.write;
    stream.write = (data: string): boolean => {
      const bytes = Buffer.byteLength(data);
      // As sonic-boom would: a full buffer is written at once, in writes of at most MAX_WRITE_BYTES.
      if (this.pendingLength + bytes > MAX_WRITE_BYTES) this.writeNow();
      this.pending.push(data);
      this.pendingLength += bytes;
      if (this.pendingLength >= BUFFER_BYTES) this.writeNow();
      if (this.timer === undefined) {
        // At the end of this turn of the event loop: the lines of everything it answered go out
        // together, and none waits for a clock (a client that got its answer finds the line
        // written as soon as before). WRITE_DELAY_MS stays the documented bound.
        this.timer = setImmediate(this.writeNow);
        this.timer.unref();
      }
      // pino does not wait for room: there is always some.
      return true;
    };
    stream.on('drain', () => {
      if (!this.writeAfterDrain) return;
      this.writeAfterDrain = false;
      this.writeNow();
    });
  }

  /**
   * A failed synchronous write emits its 'error' inside write(), which would throw it at the
   * caller: the audit log's would be lost inside a request's completion hook, where Fastify
   * drops it. Raised from the event loop instead, as a failed asynchronous write is: an uncaught
   * exception (serve logs it as fatal and exits 1). Once: the process is ending then.
   */
  private reportFailedWrites(): void {
    let reported = false;
    this.stream.on('error', (err: Error) => {
      if (reported) return;
      reported = true;
      process.nextTick(() => {
        throw err;
      });
    });
  }

  /**
   * pino calls flushSync after every `fatal` line, and at exit. A synchronous write while an
   * asynchronous one is under way would put the lines it writes ahead of that write's, out of
   * order; so while the process still runs, it is left to the asynchronous writer (serve's crash
   * path awaits flush()). At exit, when nothing else can write them, they are written anyway.
   */
  private keepOrderOnFlushSync(): void {
    const stream = this.stream;
    const flushSync = stream.flushSync;
    stream.flushSync = (): void => {
      this.handOver();
      if (this.state._writing && !exiting) {
        this.writeNow();
        return;
      }
      flushSync.call(stream);
    };
  }

  /**
   * Resolves once every line handed to the stream so far is written (or the stream failed or
   * closed). Lines handed over later may still wait. sonic-boom's flush(cb) cannot tell this: it
   * calls back at the next 'drain', which can come with lines still waiting, and it fsyncs. So
   * count: what was waiting when flush() was called is out once as many bytes have been written
   * since; or once nothing is waiting at all (pino's flushSync writes without saying so).
   */
  flush(): Promise<void> {
    const stream = this.stream;
    const state = this.state;
    this.handOver();
    const owed = state._len;
    if (owed === 0 || state.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      let written = 0;
      const done = (): void => {
        stream.off('write', onWrite);
        stream.off('drain', onDrain);
        stream.off('error', done);
        stream.off('close', done);
        resolve();
      };
      const onWrite = (bytes: number): void => {
        written += bytes;
        if (written >= owed) done();
      };
      const onDrain = (): void => {
        if (state._len === 0) done();
        else this.writeNow();
      };
      stream.on('write', onWrite);
      stream.on('drain', onDrain);
      stream.on('error', done);
      stream.on('close', done);
      this.writeNow();
    });
  }
}
