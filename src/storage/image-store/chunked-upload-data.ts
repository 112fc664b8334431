import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../core/digest.js';
import type { Driver, WriteWatch } from '../driver.js';
import { assembleObject } from '../assemble-object.js';
import { layout } from '../layout.js';
import type { UploadData } from './upload-data.js';

/** Digits of a chunk's start in its name: sorted by name, chunks are in order (up to a petabyte). */
const DIGITS = 15;
const CHUNK_NAME = new RegExp(`^\\d{${DIGITS}}$`);

/**
 * A session's bytes as one object per chunk, uploads/<id>/chunks/<start>, for drivers
 * that cannot write a file at an offset (an object store). Each chunk is written by a writer
 * that is committed only when the whole body arrived, so a broken chunk leaves nothing; any
 * replica finds the session's size by listing its chunks, so a session can go on elsewhere.
 * The verified blob is a server-side copy of a single chunk (the common monolithic or streamed
 * push), or the chunks read back in order into one new object. (distribution instead keeps one
 * S3 multipart upload open across a session's requests, buffering to S3's 5 MiB least part, and
 * needs ListParts to go on with it elsewhere; s3rver, the S3 server the tests have, lacks it.)
 */
export class ChunkedUploadData implements UploadData {
  readonly shared = true;

  constructor(private readonly driver: Driver) {}

  /** The keys of the session's chunks, in order: each begins where the one before ended. */
  private async chunks(id: string): Promise<string[]> {
    const dir = layout.uploadChunks(id);
    const names = (await this.driver.list(dir)).filter((name) => CHUNK_NAME.test(name)).sort();
    return names.map((name) => `${dir}/${name}`);
  }

  /** Where the last chunk starts, its size and date; undefined before the first chunk. */
  private async last(id: string): Promise<{ start: number; size: number; modifiedMs: number } | undefined> {
    const key = (await this.chunks(id)).at(-1);
    if (key === undefined) return undefined;
    const info = await this.driver.stat(key);
    // Removed meanwhile (the session was cancelled or expired): as good as no data.
    return info && { start: Number(key.slice(key.lastIndexOf('/') + 1)), size: info.size, modifiedMs: info.modifiedMs };
  }

  async size(id: string): Promise<number> {
    const last = await this.last(id);
    return last ? last.start + last.size : 0;
  }

  async modifiedMs(id: string): Promise<number | undefined> {
    return (await this.last(id))?.modifiedMs;
  }

  async append(id: string, offset: number, body: Readable, watch: WriteWatch, expected: number | undefined): Promise<number> {
    // Nobody can read a chunk before it is committed: there is no progress to tell readers.
    const onChunk = watch.onChunk;
    const chunk = this.driver.writer(`${layout.uploadChunks(id)}/${String(offset).padStart(DIGITS, '0')}`);
    let written: number;
    try {
      written = await chunk.append(body, onChunk ? { onChunk } : {});
    } catch (err) {
      await chunk.cancel();
      throw err;
    }
    // A wrong length keeps nothing, and an empty body needs no object.
    if ((expected !== undefined && written !== expected) || written === 0) await chunk.cancel();
    else await chunk.commit();
    return written;
  }

  read(id: string): Readable {
    const out = new PassThrough();
    void (async () => {
      for (const key of await this.chunks(id)) await pipeline(this.driver.readStream(key), out, { end: false });
      out.end();
    })().catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  async commit(id: string, digest: Digest): Promise<void> {
    const home = layout.blobData(digest);
    const chunks = await this.chunks(id);
    // The driver's commit keeps a home that exists already by itself.
    if (chunks.length === 1) return this.driver.commit(chunks[0] as string, home);
    if (await this.driver.stat(home)) return;
    if (chunks.length === 0) return this.driver.writeAtomic(home, '');
    return assembleObject(this.driver, home, chunks);
  }
}
