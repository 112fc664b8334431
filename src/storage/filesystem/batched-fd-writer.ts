import { write } from 'node:fs';
import type { Readable } from 'node:stream';
import type { WriteWatch } from '../driver.js';
import { drainChunks } from '../../runtime/drain-chunks.js';
import { droppedShortLived } from '../../runtime/young-garbage.js';
import { promisify } from 'node:util';
import { startWriteback, writebackDue } from './early-writeback.js';

const writeFd = promisify(write);

/**
 * Socket reads arrive in chunks of about 64 KiB; one thread-pool write each made a 1 GiB upload
 * crawl at ~250 MB/s, far below the disk and the sha256 rate. Chunks are copied into batches of
 * this size, each written with one write. Copying (about 0.1 ms per MiB) lets every chunk die at
 * once: held until written, chunks outlived the young generation and made V8 run full
 * collections (see runtime/young-garbage.ts).
 */
const BATCH_BYTES = 1024 * 1024;

/** Writes all of `data` at `position`, going on after a partial write. */
async function writeAll(fd: number, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await writeFd(fd, data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Spare batch buffers, reused across uploads so that batching allocates nothing per upload. */
const spareBatches: Buffer[] = [];
const MAX_SPARE_BATCHES = 16;

function batchBuffer(): Buffer {
  return spareBatches.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);
}

function releaseBatch(buffer: Buffer): void {
  if (spareBatches.length < MAX_SPARE_BATCHES) spareBatches.push(buffer);
}

/**
 * Writes a sequence of chunks at consecutive positions of a file in ~1 MiB batches, with one
 * batch on its way to the disk while the next is gathered (so reading the socket and hashing
 * overlap with writing), and flushes what it wrote in the background every few MiB
 * (early-writeback.ts). `written` counts bytes the disk has taken.
 */
export class BatchedFdWriter {
  /** The batch being filled: chunks are copied in, so they are garbage as soon as they arrive. */
  private batch: Buffer | undefined;
  private batchBytes = 0;
  private position: number;
  private inFlight: Promise<void> = Promise.resolve();
  /** Where the bytes written since the last flush started begin. */
  private unflushedFrom: number;
  private flushing: Promise<Error | undefined> | undefined;
  private flushError: Error | undefined;
  /** The first write that failed: the next chunk is refused with it. */
  private writeError: unknown;
  written = 0;

  constructor(
    private readonly fd: number,
    private readonly start: number,
    /** Hears `written` after each batch reaches the file. */
    private readonly onWritten?: (written: number) => void,
    /** False where write-back means nothing (a tmpfs: early-writeback.ts writebackUseful). */
    private readonly earlyWriteback = true,
  ) {
    this.position = start;
    this.unflushedFrom = start;
  }

  /** Takes a chunk; returns a promise when the caller should wait before the next (a full batch waits for the previous write). */
  add(chunk: Buffer): Promise<void> | undefined {
    if (this.writeError !== undefined) throw this.writeError;
    let copied = 0;
    let wait: Promise<void> | undefined;
    while (copied < chunk.length) {
      this.batch ??= batchBuffer();
      const n = chunk.copy(this.batch, this.batchBytes, copied);
      copied += n;
      this.batchBytes += n;
      if (this.batchBytes === BATCH_BYTES) {
        // A chunk may fill two batches: the later wait carries any failure of the earlier.
        wait?.catch(() => undefined);
        wait = this.send();
      }
    }
    return wait;
  }

  /**
   * Queues the batch behind the write in flight (so `inFlight` is always the last write, whatever
   * the caller awaits) and resolves when that previous write is done: one batch is written while
   * the next fills.
   */
  private send(): Promise<void> {
    const batch = this.batch;
    if (this.batchBytes === 0 || !batch) return Promise.resolve();
    const bytes = this.batchBytes;
    const at = this.position;
    this.batch = undefined;
    this.batchBytes = 0;
    this.position += bytes;
    const previous = this.inFlight;
    this.inFlight = previous.then(() => writeAll(this.fd, batch.subarray(0, bytes), at)).then(() => {
      releaseBatch(batch);
      this.written += bytes;
      this.onWritten?.(this.written);
      this.flushInBackground();
    });
    // A write may fail (a full disk) while the next batch is still filling and nobody waits on
    // it: the failure is kept here, for the next chunk, finish() and settled() to report, and must
    // not count as an unhandled rejection meanwhile, which would end the process.
    this.inFlight.catch((err: unknown) => {
      this.writeError ??= err;
    });
    return previous;
  }

  private flushInBackground(): void {
    const writtenTo = this.start + this.written;
    const unflushed = writtenTo - this.unflushedFrom;
    if (!this.earlyWriteback || this.flushing || !writebackDue(unflushed)) return;
    const flush = startWriteback(this.fd, this.unflushedFrom, unflushed);
    this.unflushedFrom = writtenTo;
    this.flushing = flush.then((err) => {
      this.flushError ??= err;
      this.flushing = undefined;
      return err;
    });
  }

  /** Writes what is left and waits for every write (and flush: the fd is closed next). */
  async finish(): Promise<void> {
    await this.send();
    await this.inFlight;
    await this.flushing;
    if (this.flushError) throw this.flushError;
  }

  /** Resolves when no write or flush is running any more, whether the last one failed or not. */
  async settled(): Promise<void> {
    await this.inFlight.catch(() => undefined);
    await this.flushing;
  }
}

/**
 * Writes every chunk of `source` into `fd` from `offset` on, in batches, showing each chunk to
 * `watch.onChunk` first; resolves with the bytes written. `earlyWriteback` false skips the
 * background flushes (the caller knows the file is in memory only). On failure it rejects once
 * no write is running any more, so that the caller may cut the file back or close it.
 */
export async function streamIntoFile(fd: number, offset: number, source: Readable, watch: WriteWatch, earlyWriteback = true): Promise<number> {
  const writer = new BatchedFdWriter(fd, offset, watch.onWritten, earlyWriteback);
  try {
    const { onChunk } = watch;
    await drainChunks(source, (chunk) => {
      onChunk?.(chunk);
      droppedShortLived(chunk.length);
      return writer.add(chunk);
    });
    await writer.finish();
    return writer.written;
  } catch (err) {
    await writer.settled();
    throw err;
  }
}
