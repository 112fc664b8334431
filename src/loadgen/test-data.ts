import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BodyChunks } from './http-exchange.js';
import { IN_MEMORY_LIMIT, MIB } from './sizes.js';

/** Bytes appended to a stored blob to make each pushed copy unique. */
export const SUFFIX_BYTES = 32;
/** A request body is handed to the socket in slices of this size (views, not copies). */
const SLICE_BYTES = MIB;

/** A blob made unique for one push: the stored random bytes and a suffix of its own. */
export interface UniqueBlob {
  digest: string;
  size: number;
  chunks(): BodyChunks;
}

function* slices(buffer: Buffer): Generator<Uint8Array> {
  for (let offset = 0; offset < buffer.length; offset += SLICE_BYTES) yield buffer.subarray(offset, Math.min(buffer.length, offset + SLICE_BYTES));
}

/**
 * The random bytes of one size, made once in the working directory and reused by later runs. The
 * sha256 state after them is kept, so that a pushed copy made unique by a 32-byte suffix costs a
 * copy of that state and 32 bytes of hashing, not a hash of the whole blob: every push uploads
 * content the registry has never seen, and the load generator does not hash gigabytes to do it.
 */
export class StoredBlob {
  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly bytes: Buffer | undefined,
    private readonly state: Hash,
  ) {}

  static async load(path: string, size: number): Promise<StoredBlob> {
    const state = createHash('sha256');
    if (size <= IN_MEMORY_LIMIT) {
      const bytes = await readFile(path);
      state.update(bytes);
      return new StoredBlob(path, size, bytes, state);
    }
    for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB })) state.update(chunk as Buffer);
    return new StoredBlob(path, size, undefined, state);
  }

  unique(): UniqueBlob {
    const suffix = randomBytes(SUFFIX_BYTES);
    const digest = `sha256:${this.state.copy().update(suffix).digest('hex')}`;
    const { bytes, path } = this;
    const chunks = (): BodyChunks =>
      bytes
        ? (function* () {
            yield* slices(bytes);
            yield suffix;
          })()
        : (async function* () {
            for await (const chunk of createReadStream(path, { highWaterMark: SLICE_BYTES })) yield chunk as Buffer;
            yield suffix;
          })();
    return { digest, size: this.size + SUFFIX_BYTES, chunks };
  }
}

/** A small blob (a config, a tiny layer, a manifest) held whole: its digest hashed once. */
export function smallBlob(bytes: Buffer): UniqueBlob {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { digest, size: bytes.length, chunks: () => [bytes] };
}

/** The working directory's stored blobs, by size, loaded on first use. */
export class TestData {
  private readonly loaded = new Map<number, Promise<StoredBlob>>();

  constructor(
    readonly dir: string,
    private readonly note: (message: string) => void,
  ) {}

  blob(size: number): Promise<StoredBlob> {
    let entry = this.loaded.get(size);
    if (!entry) {
      entry = this.prepare(size);
      this.loaded.set(size, entry);
    }
    return entry;
  }

  private async prepare(size: number): Promise<StoredBlob> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `random-${size}.bin`);
    const existing = await stat(path).catch(() => undefined);
    if (existing?.size !== size) {
      this.note(`making ${size} random bytes in ${path}`);
      const partial = `${path}.${process.pid}.partial`;
      const file = await open(partial, 'w', 0o600);
      try {
        for (let written = 0; written < size; ) {
          const piece = randomBytes(Math.min(4 * MIB, size - written));
          await file.write(piece);
          written += piece.length;
        }
      } finally {
        await file.close();
      }
      await rename(partial, path);
    }
    return StoredBlob.load(path, size);
  }
}
