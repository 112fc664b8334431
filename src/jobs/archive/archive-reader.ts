import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract, type Extract } from 'tar-stream';
import { ArchiveError } from './archive-error.js';
import { sniffCompression, type Compression } from './compression.js';
import { normalizedEntryName } from './oci-layout.js';
import { zstdDecompress, type ZstdRun } from './zstd-process.js';

/** How long a failed read waits for the decompressor's own verdict, which says more than the tar's. */
const VERDICT_WAIT_MS = 500;

/** Read size of the archive file. */
const FILE_CHUNK_BYTES = 1024 * 1024;

/** One file of the archive: read `body` to the end (or `skip` it) before asking for the next. */
export interface ArchiveEntry {
  /** As written in the tar, `./` and trailing slashes dropped (normalizedEntryName). */
  name: string;
  type: string;
  size: number;
  body: AsyncIterable<Buffer>;
  skip(): void;
}

async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Counts the archive's bytes as they are read (progress, bytes read). */
function counter(onRead: (bytes: number) => void): Transform {
  return new Transform({
    highWaterMark: FILE_CHUNK_BYTES,
    transform(chunk: Buffer, _encoding, callback) {
      onRead(chunk.length);
      callback(null, chunk);
    },
  });
}

interface Decompression {
  input: NodeJS.WritableStream;
  output: Readable;
  /** Rejects when the decompressor found the data corrupt or cut short. */
  done: Promise<void>;
  stop(): void;
}

function decompression(compression: Compression): Decompression {
  if (compression === 'zstd') {
    const zstd: ZstdRun = zstdDecompress();
    return { input: zstd.stdin as NodeJS.WritableStream, output: zstd.stdout as Readable, done: zstd.done, stop: () => zstd.kill() };
  }
  if (compression === 'none') {
    // Nothing to verify on the way: the tar's and the blobs' own checks are all there is.
    const stream = new PassThrough({ highWaterMark: FILE_CHUNK_BYTES });
    return { input: stream, output: stream, done: Promise.resolve(), stop: () => stream.destroy() };
  }
  const gunzip = createGunzip({ chunkSize: FILE_CHUNK_BYTES });
  const done = new Promise<void>((resolve, reject) => {
    gunzip.once('error', (err) => reject(new Error(`the archive's gzip data is corrupt or cut short (${err.message})`)));
    gunzip.once('end', resolve);
  });
  done.catch(() => undefined);
  return { input: gunzip, output: gunzip, done, stop: () => gunzip.destroy() };
}

/** What tar-stream's terse errors mean for an archive. */
function tarProblem(err: Error, lastEntry: string | undefined): string {
  const where = lastEntry === undefined ? 'at its start' : `after ${lastEntry}`;
  if (/Unexpected end of data/.test(err.message)) return `the archive is truncated: its tar data ends ${lastEntry === undefined ? 'early' : `in or after ${lastEntry}`}`;
  if (/Invalid tar header/.test(err.message)) return `the archive's tar data is corrupt ${where} (a header fails its checksum)`;
  return `the archive's tar data cannot be read ${where} (${err.message})`;
}

/**
 * The entries of a tar archive, decompressed as the first bytes say (gzip, zstd or none), as a
 * stream: nothing is held beyond the entry being read. Every failure (a corrupt or truncated
 * archive, a decompressor that refuses it) is an ArchiveError that says so; stopping early (an
 * error in the loop, an abort) stops reading and ends the decompressor.
 */
export async function* archiveEntries(path: string, onRead: (bytes: number) => void = () => undefined): AsyncGenerator<ArchiveEntry> {
  let head: Buffer;
  try {
    head = await readHead(path);
  } catch (err) {
    throw new ArchiveError(`cannot read the archive ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const file = createReadStream(path, { highWaterMark: FILE_CHUNK_BYTES });
  const decompress = decompression(sniffCompression(head));
  const tar: Extract = extract();
  const failWith = (err: Error): void => void tar.destroy(err);
  file.once('error', (err) => failWith(new ArchiveError(`cannot read the archive ${path} (${err.message})`)));
  file.pipe(counter(onRead)).pipe(decompress.input);
  decompress.output.once('error', (err) => failWith(err));
  decompress.output.pipe(tar as unknown as NodeJS.WritableStream);
  decompress.done.catch((err: Error) => failWith(err));

  let lastEntry: string | undefined;
  /** Why reading failed, in the archive's terms: the decompressor's verdict (a checksum, a cut-off frame) says more than the tar's. */
  const explain = async (err: unknown): Promise<ArchiveError> => {
    if (err instanceof ArchiveError) return err;
    const verdict = await Promise.race([decompress.done.then(() => undefined, (e: Error) => e), new Promise<undefined>((r) => setTimeout(r, VERDICT_WAIT_MS, undefined).unref())]);
    if (verdict) return new ArchiveError(`${path}: ${verdict.message}`);
    return new ArchiveError(`${path}: ${tarProblem(err as Error, lastEntry)}`);
  };
  async function* explained(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of source) yield chunk;
    } catch (err) {
      throw await explain(err);
    }
  }
  try {
    for await (const source of tar) {
      const { header } = source;
      lastEntry = header.name;
      yield {
        name: normalizedEntryName(header.name),
        type: header.type,
        size: header.size,
        body: explained(source as AsyncIterable<Buffer>),
        skip: () => void source.resume(),
      };
    }
    await decompress.done;
  } catch (err) {
    throw await explain(err);
  } finally {
    file.destroy();
    decompress.stop();
    tar.destroy();
  }
}
