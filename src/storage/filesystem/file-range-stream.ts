import { close, open, read } from 'node:fs';
import { ServerResponse } from 'node:http';
import { Readable, type Writable } from 'node:stream';
import { kernelIo, type KernelIo } from '../../native/kernel-io.js';
import { markBodyDelivered, selfSentBodyStarted } from '../../runtime/body-delivery.js';
import type { GrowingFile } from '../driver.js';
import { plainSocketFd, sendFileToSocket } from './zero-copy.js';

/**
 * Read size when bytes go through user space. Node's default (64 KiB) cost 16 reads and socket
 * writes per MiB and left a 1 MiB GET slower than distribution; 256 KiB more than doubled it while
 * keeping a download's buffer small enough for hundreds of concurrent ones.
 */
const READ_CHUNK_BYTES = 256 * 1024;

function isMissing(err: NodeJS.ErrnoException | null): boolean {
  return err?.code === 'ENOENT';
}

/**
 * The bytes `start`..`end` (inclusive) of a file, as a stream. Piped into an HTTP response on a
 * plain TCP connection, and with `zeroCopy`, it does not flow through JavaScript at all: the
 * kernel sends the file to the socket with sendfile(2) (see zero-copy.ts), as Go's net/http does
 * for distribution. Anywhere else (another destination, TLS, no addon) it is an ordinary stream.
 *
 * Given a GrowingFile instead of a path, it follows a file still being written: it reads as far
 * as the writer says is there and waits for more. It keeps the descriptor it opened, which stays
 * valid when the finished file is renamed into place (or removed as a duplicate).
 */
export class FileRangeStream extends Readable {
  private fd = -1;
  /** Settles when _construct has opened the file (or failed to). */
  private readonly opened: Promise<void>;
  private markOpened!: (error?: Error) => void;
  private position: number;
  private readonly end: number;

  private readonly growing: GrowingFile | undefined;

  constructor(
    source: string | GrowingFile,
    range: { start: number; end: number } | undefined,
    private readonly zeroCopy: boolean,
  ) {
    super({ highWaterMark: READ_CHUNK_BYTES });
    this.growing = typeof source === 'string' ? undefined : source;
    this.path = typeof source === 'string' ? () => source : () => source.path();
    this.position = range?.start ?? 0;
    this.end = range?.end ?? Number.MAX_SAFE_INTEGER;
    this.opened = new Promise<void>((resolve, reject) => {
      this.markOpened = (error) => (error ? reject(error) : resolve());
    });
    // Only sendTo waits on it; a failed open is reported through the stream's 'error' as well.
    this.opened.catch(() => undefined);
  }

  private readonly path: () => string;

  override _construct(callback: (error?: Error | null) => void): void {
    const done = (err: Error | null, fd?: number): void => {
      this.markOpened(err ?? undefined);
      if (err) return callback(err);
      this.fd = fd as number;
      callback();
    };
    const attempt = (): void => {
      // Nothing to read (an empty blob): nothing to open, nor to wait for.
      if (this.position > this.end) return done(null, -1);
      const growing = this.growing;
      const failure = growing?.failure();
      if (failure) return done(failure);
      // A file being written may not exist before its first bytes.
      if (growing && growing.available() === 0) return void growing.changed().then(attempt);
      const path = this.path();
      open(path, 'r', (err, fd) => {
        if (!growing || !isMissing(err)) return done(err, fd);
        // Gone: the write failed and its file was removed, or it moved as it was completed (to
        // where path() says now, or will once told). A complete file that is missing stays so.
        const failed = growing.failure();
        if (failed) done(failed);
        else if (this.path() !== path) attempt();
        else if (growing.complete()) done(err);
        else void growing.changed().then(attempt);
      });
    };
    attempt();
  }

  /** The last byte that may be read now. */
  private readableEnd(): number {
    return this.growing ? Math.min(this.end, this.growing.available() - 1) : this.end;
  }

  /** Resolves when more may be read; rejects when the file being followed will never have it. */
  private async more(): Promise<void> {
    const growing = this.growing;
    if (!growing) return;
    const failure = growing.failure();
    if (failure) throw failure;
    if (growing.complete()) throw new Error(`${this.path()} is complete at ${growing.available()} bytes, short of byte ${this.end}`);
    await growing.changed();
  }

  override _read(size: number): void {
    if (this.position > this.end) {
      this.push(null);
      return;
    }
    const want = Math.min(Math.max(size, READ_CHUNK_BYTES), this.readableEnd() - this.position + 1);
    if (want <= 0) {
      this.more().then(
        () => this._read(size),
        (err: Error) => this.destroy(err),
      );
      return;
    }
    const buffer = Buffer.allocUnsafeSlow(want);
    read(this.fd, buffer, 0, want, this.position, (err, bytesRead) => {
      if (err) return this.destroy(err);
      if (bytesRead === 0) {
        // A followed file shorter than its writer said: it was cut back after a failed write
        // (the failure may not be announced yet). Never an end: the answer would look whole.
        if (this.growing) return this.destroy(this.growing.failure() ?? new Error(`${this.path()} ended at byte ${this.position}, short of what was written`));
        return this.push(null);
      }
      this.position += bytesRead;
      this.push(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.fd < 0) return callback(error);
    const fd = this.fd;
    this.fd = -1;
    close(fd, () => callback(error));
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    const response = destination as unknown as Writable;
    if (!this.zeroCopy || !(response instanceof ServerResponse) || options?.end === false) return super.pipe(destination, options);
    const socket = response.socket;
    const socketFd = socket ? plainSocketFd(socket) : undefined;
    const { addon } = kernelIo();
    if (!addon || !socket || socketFd === undefined || this.end === Number.MAX_SAFE_INTEGER) return super.pipe(destination, options);
    this.sendTo(response, addon, socketFd).catch((err: Error) => {
      // Before the status line the usual error answer can still be written; after it, the
      // connection is cut (the client sees a short body), as with a stream failing midway.
      if (response.headersSent) response.destroy(err);
      this.destroy(err);
    });
    return destination;
  }

  /** Status line and headers as node writes them, then the body by sendfile, then the end. */
  private async sendTo(response: ServerResponse, addon: KernelIo, socketFd: number): Promise<void> {
    const settled = selfSentBodyStarted(response);
    try {
      await this.sendBody(response, addon, socketFd);
    } finally {
      settled();
    }
  }

  private async sendBody(response: ServerResponse, addon: KernelIo, socketFd: number): Promise<void> {
    await this.opened;
    const socket = response.socket!;
    response.flushHeaders();
    // Headers go out through node's write queue; the body must not overtake them.
    await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
    while (this.position <= this.end) {
      const last = this.readableEnd();
      if (last < this.position) {
        await this.more();
        continue;
      }
      await sendFileToSocket(addon, socket, socketFd, this.fd, this.position, last - this.position + 1);
      this.position = last + 1;
    }
    // Every byte of the body is with the kernel now, even if the client has already hung up.
    markBodyDelivered(response);
    // End this stream before the response, so that whoever piped it (Fastify) sees a stream that
    // ended, not one cut off by the response finishing first.
    // (Or closed: whoever piped it may have destroyed it when the client hung up, and a
    // destroyed stream never ends.)
    const ended = new Promise<void>((resolve) => {
      this.once('end', resolve);
      this.once('close', resolve);
    });
    this.push(null);
    this.resume();
    if (!this.destroyed) await ended;
    response.end();
  }
}
