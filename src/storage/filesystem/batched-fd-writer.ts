import { writev } from 'node:fs';
import { promisify } from 'node:util';

const writevFd = promisify(writev);

/**
 * Socket reads arrive in chunks of about 64 KiB; one thread-pool write each made a 1 GiB upload
 * crawl at ~250 MB/s, far below the disk and the sha256 rate. Chunks are gathered into batches
 * of this size and written with one writev.
 */
const BATCH_BYTES = 1024 * 1024;

/** Writes all of `buffers` at `position`, going on after a partial write. */
async function writevAll(fd: number, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await writevFd(fd, pending, at);
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
    pending = rest;
  }
}

/**
 * Writes a sequence of chunks at consecutive positions of a file in ~1 MiB batches, with one
 * batch on its way to the disk while the next is gathered (so reading the socket and hashing
 * overlap with writing). `written` counts bytes the disk has taken.
 */
export class BatchedFdWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private position: number;
  private inFlight: Promise<void> = Promise.resolve();
  written = 0;

  constructor(
    private readonly fd: number,
    start: number,
  ) {
    this.position = start;
  }

  async add(chunk: Buffer): Promise<void> {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= BATCH_BYTES) await this.send();
  }

  /** Sends the gathered batch once the previous one is written: at most one write in flight. */
  private async send(): Promise<void> {
    if (this.batchBytes === 0) return;
    const buffers = this.batch;
    const bytes = this.batchBytes;
    const at = this.position;
    this.batch = [];
    this.batchBytes = 0;
    this.position += bytes;
    await this.inFlight;
    this.inFlight = writevAll(this.fd, buffers, at).then(() => {
      this.written += bytes;
    });
  }

  /** Writes what is left and waits for every write. */
  async finish(): Promise<void> {
    await this.send();
    await this.inFlight;
  }

  /** Resolves when no write is running any more, whether the last one failed or not. */
  settled(): Promise<void> {
    return this.inFlight.catch(() => undefined);
  }
}
