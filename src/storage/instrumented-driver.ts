import type { Readable } from 'node:stream';
import { isClientAbort } from '../runtime/client-abort.js';
import type { Driver, FileInfo, GrowingFile, WriteOptions, WriteWatch } from './driver.js';

/**
 * Hears each driver operation: its name, how long it took (seconds), and why it failed
 * (undefined when it succeeded, or when only the client broke it off).
 */
export type OperationObserver = (operation: string, seconds: number, failure: unknown) => void;

/**
 * A Driver that times every operation of the driver it wraps (distribution's
 * registry_storage_action_seconds, zot's storage latency). Drivers stay unaware of metrics;
 * any driver, filesystem or later S3, is instrumented the same way.
 */
export class InstrumentedDriver implements Driver {
  readonly name: string;

  constructor(
    private readonly inner: Driver,
    private readonly observe: OperationObserver,
  ) {
    this.name = inner.name;
  }

  private timed<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    // then(), not an async function with an await: one promise per operation instead of two,
    // on the path of every request.
    return work().then(
      (result) => {
        this.observe(operation, (performance.now() - start) / 1000, undefined);
        return result;
      },
      (err: unknown) => {
        // A client that hangs up mid-upload breaks the write, but that is no storage failure.
        this.observe(operation, (performance.now() - start) / 1000, isClientAbort(err) ? undefined : err);
        throw err;
      },
    );
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

  createExclusive(path: string, data: string): Promise<boolean> {
    return this.timed('createExclusive', () => this.inner.createExclusive(path, data));
  }

  stat(path: string): Promise<FileInfo | undefined> {
    return this.timed('stat', () => this.inner.stat(path));
  }

  touch(path: string): Promise<boolean> {
    return this.timed('touch', () => this.inner.touch(path));
  }

  /** Timed from opening to the stream's end (or failure): the whole read. */
  readStream(path: string, range?: { start: number; end: number }): Readable {
    return this.timedStream('readStream', performance.now(), this.inner.readStream(path, range));
  }

  /** Timed like readStream: the whole read, waits for the writer included. */
  followStream(file: GrowingFile, range: { start: number; end: number }): Readable {
    return this.timedStream('followStream', performance.now(), this.inner.followStream(file, range));
  }

  private timedStream(operation: string, start: number, stream: Readable): Readable {
    let failure: unknown;
    stream.once('error', (err) => (failure = err));
    stream.once('close', () => this.observe(operation, (performance.now() - start) / 1000, failure));
    return stream;
  }

  list(path: string): Promise<string[]> {
    return this.timed('list', () => this.inner.list(path));
  }

  rename(from: string, to: string): Promise<void> {
    return this.timed('rename', () => this.inner.rename(from, to));
  }

  remove(path: string): Promise<void> {
    return this.timed('remove', () => this.inner.remove(path));
  }

  writeStreamAt(path: string, offset: number, source: Readable, watch?: WriteWatch): Promise<number> {
    return this.timed('writeStreamAt', () => this.inner.writeStreamAt(path, offset, source, watch));
  }

  commit(from: string, to: string): Promise<void> {
    return this.timed('commit', () => this.inner.commit(from, to));
  }

  truncate(path: string, size: number): Promise<void> {
    return this.timed('truncate', () => this.inner.truncate(path, size));
  }
}
