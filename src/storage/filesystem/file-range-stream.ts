import { close, open, read } from 'node:fs';
import { ServerResponse } from 'node:http';
import { Readable, type Writable } from 'node:stream';
import { kernelIo, type KernelIo } from '../../native/kernel-io.js';
import { plainSocketFd, sendFileToSocket } from './zero-copy.js';

/**
 * Read size when bytes go through user space. Node's default (64 KiB) cost 16 reads and socket
 * writes per MiB and left a 1 MiB GET slower than distribution; 256 KiB more than doubled it while
 * keeping a download's buffer small enough for hundreds of concurrent ones.
 */
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * The bytes `start`..`end` (inclusive) of a file, as a stream. Piped into an HTTP response on a
 * plain TCP connection, and with `zeroCopy`, it does not flow through JavaScript at all: the
 * kernel sends the file to the socket with sendfile(2) (see zero-copy.ts), as Go's net/http does
 * for distribution. Anywhere else (another destination, TLS, no addon) it is an ordinary stream.
 */
export class FileRangeStream extends Readable {
  private fd = -1;
  /** Settles when _construct has opened the file (or failed to). */
  private readonly opened: Promise<void>;
  private markOpened!: (error?: Error) => void;
  private position: number;
  private readonly end: number;

  constructor(
    private readonly path: string,
    range: { start: number; end: number } | undefined,
    private readonly zeroCopy: boolean,
  ) {
    super({ highWaterMark: READ_CHUNK_BYTES });
    this.position = range?.start ?? 0;
    this.end = range?.end ?? Number.MAX_SAFE_INTEGER;
    this.opened = new Promise<void>((resolve, reject) => {
      this.markOpened = (error) => (error ? reject(error) : resolve());
    });
    // Only sendTo waits on it; a failed open is reported through the stream's 'error' as well.
    this.opened.catch(() => undefined);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'r', (err, fd) => {
      this.markOpened(err ?? undefined);
      if (err) return callback(err);
      this.fd = fd;
      callback();
    });
  }

  override _read(size: number): void {
    const want = Math.min(Math.max(size, READ_CHUNK_BYTES), this.end - this.position + 1);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafeSlow(want);
    read(this.fd, buffer, 0, want, this.position, (err, bytesRead) => {
      if (err) return this.destroy(err);
      if (bytesRead === 0) return this.push(null);
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
    await this.opened;
    const socket = response.socket!;
    response.flushHeaders();
    // Headers go out through node's write queue; the body must not overtake them.
    await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
    const length = this.end - this.position + 1;
    await sendFileToSocket(addon, socket, socketFd, this.fd, this.position, length);
    this.position += length;
    // End this stream before the response, so that whoever piped it (Fastify) sees a stream that
    // ended, not one cut off by the response finishing first.
    const ended = new Promise<void>((resolve) => this.once('end', resolve));
    this.push(null);
    this.resume();
    await ended;
    response.end();
  }
}
