import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
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

/** A stored blob as it crosses to a worker thread: its file, and its bytes in memory shared by every thread (none above IN_MEMORY_LIMIT). */
export interface SharedBlob {
  path: string;
  size: number;
  bytes: SharedArrayBuffer | undefined;
}

/** Reads a whole file into memory that worker threads can share without a copy. */
async function readShared(path: string, size: number): Promise<Buffer> {
  const bytes = Buffer.from(new SharedArrayBuffer(size));
  const file = await open(path, 'r');
  try {
    for (let offset = 0; offset < size; ) {
      const { bytesRead } = await file.read(bytes, offset, Math.min(16 * MIB, size - offset), offset);
      if (bytesRead === 0) throw new Error(`${path}: ${size - offset} bytes missing at its end`);
      offset += bytesRead;
    }
  } finally {
    await file.close();
  }
  return bytes;
}

async function hashState(path: string, bytes: Buffer | undefined): Promise<Hash> {
  const state = createHash('sha256');
  if (bytes) state.update(bytes);
  else for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB })) state.update(chunk as Buffer);
  return state;
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
    const bytes = size <= IN_MEMORY_LIMIT ? await readShared(path, size) : undefined;
    return new StoredBlob(path, size, bytes, await hashState(path, bytes));
  }

  /** In a worker thread: the main thread's blob, its bytes the same memory (the hash state is made again: it cannot cross). */
  static async adopt(shared: SharedBlob): Promise<StoredBlob> {
    const bytes = shared.bytes === undefined ? undefined : Buffer.from(shared.bytes);
    return new StoredBlob(shared.path, shared.size, bytes, await hashState(shared.path, bytes));
  }

  share(): SharedBlob {
    return { path: this.path, size: this.size, bytes: this.bytes === undefined ? undefined : (this.bytes.buffer as SharedArrayBuffer) };
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

/** Where a test takes its stored blobs from. */
export interface BlobSource {
  blob(size: number): Promise<StoredBlob>;
}

/** The working directory's stored blobs, by size, loaded on first use. */
export class TestData implements BlobSource {
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

  /** A view that notes the sizes asked for (a test's setup), so that worker threads get those. */
  tracking(): BlobSource & { readonly sizes: ReadonlySet<number> } {
    const sizes = new Set<number>();
    return {
      sizes,
      blob: (size) => {
        sizes.add(size);
        return this.blob(size);
      },
    };
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

/** A worker thread's blobs: those the main thread shared, adopted before the measured operations start. */
export class SharedTestData implements BlobSource {
  private readonly loaded = new Map<number, Promise<StoredBlob>>();

  constructor(private readonly shared: readonly SharedBlob[]) {}

  /** Adopts every shared blob now (hashing it), so that no operation pays for it. */
  async prepare(): Promise<void> {
    await Promise.all(this.shared.map((each) => this.blob(each.size)));
  }

  blob(size: number): Promise<StoredBlob> {
    let entry = this.loaded.get(size);
    if (!entry) {
      const shared = this.shared.find((each) => each.size === size);
      entry = shared === undefined ? Promise.reject(new Error(`no test data of ${size} bytes was shared with this worker thread`)) : StoredBlob.adopt(shared);
      this.loaded.set(size, entry);
    }
    return entry;
  }
}
