import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack, type Pack } from 'tar-stream';
import { GZIP_LEVEL, ZSTD_LEVEL, type Compression } from './compression.js';
import { fsyncPath } from '../../storage/filesystem/fsync-path.js';
import { zstdCompressInto, type ZstdRun } from './zstd-process.js';

/** Write size of the archive file: fewer, larger writes than fs's 16 KiB default. */
const FILE_CHUNK_BYTES = 1024 * 1024;

/** Where an archive is written until it is complete: hidden, beside the target, so that the rename is atomic. */
export function partialNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomUUID().slice(0, 8)}.partial`);
}

/**
 * A tar archive being written: entries stream through tar-stream (and gzip, or a zstd process)
 * into a hidden file beside the target, which only `finish` moves into place once every byte is
 * on disk (fsync, rename, fsync of the directory). Until then the target is untouched; `abort`
 * removes the partial file. Nothing is buffered whole: blob bytes go through as they are read.
 */
export class ArchiveWriter {
  private readonly pack: Pack;
  /** The first thing that went wrong: every later call rethrows it. */
  private failure: Error | undefined;
  private readonly failed: Promise<never>;
  private fail!: (err: Error) => void;
  private readonly drained: Promise<void>;
  private zstd: ZstdRun | undefined;

  private constructor(
    readonly target: string,
    readonly partial: string,
    private readonly handle: FileHandle,
    compression: Compression,
    private readonly mtime: Date,
  ) {
    this.failed = new Promise<never>((_, reject) => {
      this.fail = (err) => {
        this.failure ??= err;
        reject(this.failure);
      };
    });
    this.failed.catch(() => undefined);
    this.pack = pack();
    this.pack.on('error', (err: Error) => this.fail(err));
    this.drained = this.connect(compression);
    // Awaited by finish only; a failure also reaches `failed`, and after abort nobody waits.
    this.drained.catch(() => undefined);
  }

  /** Opens the partial file (never an existing one) for an archive that will become `target`. */
  static async create(target: string, compression: Compression, mtime = new Date()): Promise<ArchiveWriter> {
    const partial = partialNameFor(target);
    const handle = await open(partial, 'wx', 0o644);
    return new ArchiveWriter(target, partial, handle, compression, mtime);
  }

  /** Pipes the tar into the file, through the compressor; settles once the file has every byte. */
  private connect(compression: Compression): Promise<void> {
    if (compression === 'zstd') {
      const zstd = zstdCompressInto(this.handle.fd, ZSTD_LEVEL);
      this.zstd = zstd;
      this.pack.pipe(zstd.stdin as Writable);
      zstd.done.catch((err: Error) => this.fail(err));
      return zstd.done;
    }
    const file = createWriteStream('', { fd: this.handle.fd, autoClose: false, highWaterMark: FILE_CHUNK_BYTES });
    let head: Writable = file;
    if (compression === 'gzip') {
      const gzip = createGzip({ level: GZIP_LEVEL, chunkSize: FILE_CHUNK_BYTES });
      gzip.on('error', (err) => this.fail(err));
      gzip.pipe(file);
      head = gzip;
    }
    this.pack.pipe(head);
    return new Promise<void>((resolve, reject) => {
      file.once('error', (err) => {
        this.fail(err);
        reject(err);
      });
      file.once('finish', resolve);
    });
  }

  private entryFor(name: string, size: number): { sink: Writable; written: Promise<void> } {
    let sink: Writable | undefined;
    const written = new Promise<void>((resolve, reject) => {
      sink = this.pack.entry({ name, size, mode: 0o644, mtime: this.mtime, type: 'file' }, (err) => (err ? reject(err) : resolve())) as unknown as Writable;
    });
    // Its failure is heard through the entry's callback: an 'error' event unheard would end the process.
    sink?.on('error', () => undefined);
    const settled = Promise.race([written, this.failed]);
    // A copy that fails first is what its caller hears of; the entry's own failure then follows unheard.
    settled.catch(() => undefined);
    return { sink: sink as unknown as Writable, written: settled };
  }

  /** A small file whose bytes are at hand (oci-layout, index.json, manifests). */
  async addBytes(name: string, bytes: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    const { sink, written } = this.entryFor(name, bytes.length);
    sink.end(bytes);
    await written;
  }

  /**
   * A file of `size` bytes streamed from `source`, with backpressure: the source is read only as
   * fast as the archive is written. `onChunk` sees each chunk as it goes (progress). Rejects when
   * the source fails or holds more or fewer than `size` bytes.
   */
  async addStream(name: string, size: number, source: Readable, onChunk?: (bytes: number) => void): Promise<void> {
    if (this.failure) throw this.failure;
    const { sink, written } = this.entryFor(name, size);
    let count = 0;
    const copied = new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        sink.destroy(err);
        reject(err);
      };
      source.on('error', onError);
      source.on('data', (chunk: Buffer) => {
        count += chunk.length;
        onChunk?.(chunk.length);
        if (count > size) return onError(new Error(`${name} holds more than the ${size} bytes it was announced with`));
        if (!sink.write(chunk)) {
          source.pause();
          sink.once('drain', () => source.resume());
        }
      });
      source.once('end', () => {
        if (count !== size) return onError(new Error(`${name} ended after ${count} of its ${size} bytes`));
        sink.end();
        resolve();
      });
    });
    try {
      await Promise.race([copied, this.failed]);
      await written;
    } finally {
      source.destroy();
    }
  }

  /** Ends the tar, waits for every byte to be on disk, and moves the archive to its target. Resolves with its size. */
  async finish(): Promise<number> {
    if (this.failure) throw this.failure;
    this.pack.finalize();
    await Promise.race([this.drained, this.failed]);
    await this.handle.sync();
    const { size } = await this.handle.stat();
    await this.handle.close();
    await rename(this.partial, this.target);
    await fsyncPath(dirname(this.target));
    return size;
  }

  /** Stops writing and removes the partial file; the target is as it was. */
  async abort(): Promise<void> {
    this.failure ??= new Error('the archive was abandoned');
    this.pack.destroy(this.failure);
    this.zstd?.kill();
    await this.zstd?.done.catch(() => undefined);
    await this.handle.close().catch(() => undefined);
    await rm(this.partial, { force: true });
  }
}
