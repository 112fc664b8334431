import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import pino from 'pino';
import { LineBatch } from './line-batch.js';
import { nonBlockingStdio } from './stdio-descriptor.js';

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
 * sonic-boom's minLength: it starts a write by itself only with this much waiting; LogFile
 * starts them (writeNow) before. It wants its minLength below its maxWrite.
 */
const BUFFER_BYTES = 64 * 1024 - 1;
/**
 * The largest batch of lines, and sonic-boom's maxWrite. A write(2) costs the same few
 * microseconds whether it carries one line or a hundred (more from the thread pool): in paired
 * runs on a manifest GET, batches of 16 KiB written at the end of each event-loop turn cost 7%
 * more server CPU per request than these, every WRITE_DELAY_MS.
 */
const MAX_WRITE_BYTES = 64 * 1024;

/**
 * How long flush() waits on a destination that takes nothing (a pipe whose reader has stopped
 * reading) while lines wait: then they are dropped, and the destination goes quiet. A slow reader
 * that takes some is waited for. docs/logging.md states it.
 */
export const FLUSH_STALL_MS = 5_000;

/**
 * How many times a synchronous flush (pino's, after a fatal line and at exit) tries a pipe that is
 * full (EAGAIN) again, sonic-boom sleeping 100 ms before each: then it gives up on the lines left.
 */
const SYNC_FLUSH_RETRIES = 10;

/**
 * sonic-boom's retryEAGAIN: whether a write that found the pipe full (stdout and stderr are
 * non-blocking: stdio-descriptor.ts) is tried again. An asynchronous write is, 100 ms later, for
 * as long as it takes (flush() bounds the wait at shutdown); a synchronous flush, which holds the
 * whole process meanwhile, SYNC_FLUSH_RETRIES times.
 */
class FullPipeRetries {
  /** Tries left to the synchronous flush under way; none under way when negative. */
  private syncTriesLeft = -1;

  readonly retry = (): boolean => {
    if (this.syncTriesLeft < 0) return true;
    this.syncTriesLeft -= 1;
    return this.syncTriesLeft >= 0;
  };

  duringSyncFlush(flush: () => void): void {
    this.syncTriesLeft = SYNC_FLUSH_RETRIES;
    try {
      flush();
    } finally {
      this.syncTriesLeft = -1;
    }
  }
}

/** What a write to a pipe or socket fails with once its reader is gone. */
const READER_GONE = new Set(['EPIPE', 'ECONNRESET']);

export interface LogFileOptions {
  /**
   * true (the default): lines wait up to WRITE_DELAY_MS (or until MAX_WRITE_BYTES are waiting) so
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
  private timer: NodeJS.Timeout | undefined;
  /** The first write that failed: nothing is written after it (reportFailedWrites). */
  private failure: Error | undefined;
  /** A delayed write found another under way: it starts when that one is done. */
  private writeAfterDrain = false;
  /** Lines logged and not yet handed to sonic-boom (a buffered destination's). */
  private readonly batch = new LineBatch(MAX_WRITE_BYTES);
  /** sonic-boom's own write(), under the one delayWrites puts in its place. */
  private handTo: ((data: Buffer) => boolean) | undefined;
  private readonly fullPipe: FullPipeRetries;

  private constructor(stream: Destination, path: string | undefined, buffered: boolean, fullPipe: FullPipeRetries) {
    this.stream = stream;
    this.path = path;
    this.buffered = buffered;
    this.fullPipe = fullPipe;
    watchExit();
    this.keepOrderOnFlushSync();
    this.reportFailedWrites();
    if (buffered) this.delayWrites();
  }

  /**
   * Rejects when a file cannot be opened for append, so start-up can refuse it. Resolves only
   * once the file is open: pino's exit hook throws on a stream still opening its file, which
   * turned a start-up refused a moment later (log.audit after log.output) from exit 2 into a crash.
   */
  static async open(output: string, options: LogFileOptions = {}): Promise<LogFile> {
    const buffered = options.buffered ?? true;
    // A buffered destination is handed its lines as buffers (LineBatch), an unbuffered one as strings.
    const fullPipe = new FullPipeRetries();
    const writing = { ...(buffered ? { minLength: BUFFER_BYTES, maxWrite: MAX_WRITE_BYTES, contentMode: 'buffer' as const } : { minLength: 0 }), retryEAGAIN: fullPipe.retry };
    if (output === 'stdout' || output === 'stderr') {
      const fd = nonBlockingStdio(output === 'stdout' ? 1 : 2);
      return new LogFile(pino.destination({ dest: fd, sync: false, ...writing }), undefined, buffered, fullPipe);
    }
    closeSync(openSync(output, 'a', 0o600));
    // `mode` applies when reopen creates the file anew after a rotation (sonic-boom option).
    const destination = { dest: output, append: true, mkdir: false, sync: !buffered, ...writing, mode: 0o600 };
    const stream = pino.destination(destination as Parameters<typeof pino.destination>[0]);
    await once(stream, 'ready');
    return new LogFile(stream, output, buffered, fullPipe);
  }

  reopen(): void {
    // Lines logged before the reopen belong where they were before it.
    this.handOver();
    if (this.path !== undefined) this.stream.reopen();
  }

  /** Bytes handed to this destination and not yet written: collected here, or waiting in sonic-boom. */
  get waiting(): number {
    return this.batch.bytes + this.state._len;
  }

  /** Hands the lines collected so far to sonic-boom, as one buffer. */
  private handOver(): void {
    if (this.handTo === undefined) return;
    const lines = this.batch.take();
    if (lines !== undefined) this.handTo.call(this.stream, lines);
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
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.failure !== undefined) return;
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
   * Collects lines (LineBatch) instead of handing each to sonic-boom, and arms the delayed write
   * as a line lands in an empty batch: it starts WRITE_DELAY_MS later, with every line logged
   * meanwhile, or at once when the next line might not fit. The timer is unref'd: it does not
   * keep a finished command alive (what waits then is written by flush() or by pino's exit hook).
   */
  private delayWrites(): void {
    const stream = this.stream;
    this.handTo = stream.write as unknown as (data: Buffer) => boolean;
    stream.write = (line: string): boolean => {
      this.collect(line);
      // pino does not wait for room: there is always some.
      return true;
    };
    stream.on('drain', () => {
      if (!this.writeAfterDrain) return;
      this.writeAfterDrain = false;
      this.writeNow();
    });
  }

  private collect(line: string): void {
    if (this.failure !== undefined) return;
    const batch = this.batch;
    if (!batch.fits(line)) {
      this.writeNow();
      // Longer than a whole batch: written alone, as sonic-boom takes it.
      if (!batch.fits(line)) {
        this.handTo?.call(this.stream, Buffer.from(line));
        this.writeNow();
        return;
      }
    }
    batch.add(line);
    if (this.timer === undefined) {
      this.timer = setTimeout(this.writeNow, WRITE_DELAY_MS);
      this.timer.unref();
    }
  }

  /**
   * After the first failed write, nothing more is written: what waits, and every line after it,
   * is dropped. A pipe or socket whose reader is gone (EPIPE, ECONNRESET: a log collector that
   * died) only silences the log, as pino does for EPIPE, and porthole serves on. Any other
   * failure, and any failure of the audit log, is raised from the event loop: an uncaught
   * exception (serve logs it as fatal and exits 1). Raised, not thrown at the caller: a failed
   * synchronous write (the audit log's) emits its 'error' inside write(), where a request's
   * completion hook would lose it. Dropping matters on the way out too: sonic-boom's synchronous
   * flush, which pino's exit hook calls, retries a failed write every 100 ms for ever.
   */
  private reportFailedWrites(): void {
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      // pino re-emits what it does not handle itself: the same error twice.
      if (this.failure !== undefined) return;
      this.giveUp(err);
      if (this.buffered && READER_GONE.has(err.code ?? '')) return;
      process.nextTick(() => {
        throw err;
      });
    });
  }

  /**
   * pino calls flushSync after every `fatal` line, and at exit. A synchronous write while an
   * asynchronous one is under way would put the lines it writes ahead of that write's, out of
   * order; so while the process still runs, it is left to the asynchronous writer (serve's crash
   * path awaits flush()). At exit, when nothing else can write them, they are written anyway. A
   * pipe that stays full gives up the lines left after SYNC_FLUSH_RETRIES tries (FullPipeRetries):
   * the process must end, and a reader that takes nothing for a second would not take them either.
   */
  private keepOrderOnFlushSync(): void {
    const stream = this.stream;
    const flushSync = stream.flushSync;
    stream.flushSync = (): void => {
      if (this.failure !== undefined) return;
      this.handOver();
      if (this.state._writing && !exiting) {
        this.writeNow();
        return;
      }
      try {
        this.fullPipe.duringSyncFlush(() => flushSync.call(stream));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        this.giveUp(err as Error);
      }
    };
  }

  /** Drops what waits, and writes nothing more: the first failure, or a reader that takes nothing. */
  private giveUp(reason: Error): void {
    this.failure ??= reason;
    this.batch.take();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Resolves once every line handed to the stream so far is written (or the stream failed or
   * closed), or once nothing at all has been written for FLUSH_STALL_MS: a reader that takes
   * nothing (a stdout pipe nobody reads) would hold a shutdown for ever, so the lines still
   * waiting then are dropped, and nothing more is written. Lines handed over later may still
   * wait. sonic-boom's flush(cb) cannot tell this: it calls back at the next 'drain', which can
   * come with lines still waiting, and it fsyncs. So count: what was waiting when flush() was
   * called is out once as many bytes have been written since; or once nothing is waiting at all
   * (pino's flushSync writes without saying so).
   */
  flush(): Promise<void> {
    const stream = this.stream;
    const state = this.state;
    this.handOver();
    const owed = state._len;
    if (owed === 0 || state.destroyed || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      let written = 0;
      const stalled = (): void => {
        this.giveUp(new Error(`${this.path ?? 'the log'} took nothing for ${FLUSH_STALL_MS} ms`));
        done();
      };
      const stall = setTimeout(stalled, FLUSH_STALL_MS);
      const done = (): void => {
        clearTimeout(stall);
        stream.off('write', onWrite);
        stream.off('drain', onDrain);
        stream.off('error', done);
        stream.off('close', done);
        resolve();
      };
      const onWrite = (bytes: number): void => {
        written += bytes;
        if (written >= owed) return done();
        // Some was taken: the wait for a stall starts again.
        stall.refresh();
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
