import type { Readable } from 'node:stream';
import { isClientAbort } from '../runtime/client-abort.js';
import type { Driver, FileInfo, FileOperations, GrowingFile, ObjectWriter, WriteOptions, WriteWatch } from './driver.js';

/**
 * Hears each driver operation: its name, how long it took (seconds), and why it failed
 * (undefined when it succeeded, or when only the client broke it off).
 */
export type OperationObserver = (operation: string, seconds: number, failure: unknown) => void;

/** Runs `work`, telling `observe` how long it took and how it ended. */
function timed<T>(observe: OperationObserver, operation: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  // then(), not an async function with an await: one promise per operation instead of two,
  // on the path of every request.
  return work().then(
    (result) => {
      observe(operation, (performance.now() - start) / 1000, undefined);
      return result;
    },
    (err: unknown) => {
      // A client that hangs up mid-upload breaks the write, but that is no storage failure.
      observe(operation, (performance.now() - start) / 1000, isClientAbort(err) ? undefined : err);
      throw err;
    },
  );
}

/** Timed from opening to the stream's end (or failure): the whole read. */
function timedStream(observe: OperationObserver, operation: string, start: number, stream: Readable): Readable {
  let failure: unknown;
  stream.once('error', (err) => (failure = err));
  stream.once('close', () => observe(operation, (performance.now() - start) / 1000, failure));
  return stream;
}

/** The file operations of an instrumented driver, timed the same way. */
class InstrumentedFileOperations implements FileOperations {
  constructor(
    private readonly inner: FileOperations,
    private readonly observe: OperationObserver,
  ) {}

  writeStreamAt(path: string, offset: number, source: Readable, watch?: WriteWatch): Promise<number> {
    return timed(this.observe, 'writeStreamAt', () => this.inner.writeStreamAt(path, offset, source, watch));
  }

  truncate(path: string, size: number): Promise<void> {
    return timed(this.observe, 'truncate', () => this.inner.truncate(path, size));
  }

  /** Timed like readStream: the whole read, waits for the writer included. */
  followStream(file: GrowingFile, range: { start: number; end: number }): Readable {
    return timedStream(this.observe, 'followStream', performance.now(), this.inner.followStream(file, range));
  }

  renameDirectory(from: string, to: string): Promise<void> {
    return timed(this.observe, 'renameDirectory', () => this.inner.renameDirectory(from, to));
  }

  directoryModified(path: string): Promise<number | undefined> {
    return timed(this.observe, 'directoryModified', () => this.inner.directoryModified(path));
  }
}

/**
 * A Driver that times every operation of the driver it wraps (distribution's
 * registry_storage_action_seconds, zot's storage latency). Drivers stay unaware of metrics;
 * any driver, filesystem or S3, is instrumented the same way.
 */
export class InstrumentedDriver implements Driver {
  readonly name: string;
  readonly files: FileOperations | undefined;
  readonly presignedGet: Driver['presignedGet'];
  readonly changes: Driver['changes'];

  constructor(
    private readonly inner: Driver,
    private readonly observe: OperationObserver,
  ) {
    this.name = inner.name;
    this.files = inner.files ? new InstrumentedFileOperations(inner.files, observe) : undefined;
    this.changes = inner.changes;
    const presign = inner.presignedGet?.bind(inner);
    this.presignedGet = presign && ((path, seconds) => this.timed('presignedGet', () => presign(path, seconds)));
  }

  private timed<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return timed(this.observe, operation, work);
  }

  init(): Promise<void> {
    return this.timed('init', () => this.inner.init());
  }

  attach(): Promise<void> {
    return this.timed('attach', () => this.inner.attach());
  }

  read(path: string): Promise<Buffer | undefined> {
    return this.timed('read', () => this.inner.read(path));
  }

  writeAtomic(path: string, data: Uint8Array | string, options?: WriteOptions): Promise<void> {
    return this.timed('writeAtomic', () => this.inner.writeAtomic(path, data, options));
  }

  /** Each append and the commit timed on their own: `writerAppend`, `writerCommit`. */
  writer(path: string): ObjectWriter {
    const inner = this.inner.writer(path);
    return {
      get written() {
        return inner.written;
      },
      append: (source, watch) => this.timed('writerAppend', () => inner.append(source, watch)),
      commit: () => this.timed('writerCommit', () => inner.commit()),
      cancel: () => inner.cancel(),
    };
  }

  createExclusive(path: string, data: string): Promise<boolean> {
    return this.timed('createExclusive', () => this.inner.createExclusive(path, data));
  }

  stat(path: string): Promise<FileInfo | undefined> {
    return this.timed('stat', () => this.inner.stat(path));
  }

  touch(path: string): Promise<boolean> {
    return this.timed('touch', () => this.inner.touch(path));
  }

  readStream(path: string, range?: { start: number; end: number }): Readable {
    return timedStream(this.observe, 'readStream', performance.now(), this.inner.readStream(path, range));
  }

  list(path: string): Promise<string[]> {
    return this.timed('list', () => this.inner.list(path));
  }

  move(from: string, to: string): Promise<void> {
    return this.timed('move', () => this.inner.move(from, to));
  }

  remove(path: string): Promise<void> {
    return this.timed('remove', () => this.inner.remove(path));
  }

  commit(from: string, to: string): Promise<void> {
    return this.timed('commit', () => this.inner.commit(from, to));
  }
}
