import { Readable } from 'node:stream';
import { missingObject, notEmpty, type Driver, type FileInfo, type FileOperations, type GrowingFile, type ObjectWriter, type WriteOptions, type WriteWatch } from '../driver.js';
import { drainChunks } from '../../runtime/drain-chunks.js';
import { checkedStorageKey } from '../storage-key.js';

/** Bytes a read stream hands out at a time, as a disk read would. */
const READ_CHUNK_BYTES = 64 * 1024;

/** A file's bytes, with room to grow (appends from positioned writes). */
interface StoredFile {
  bytes: Buffer;
  length: number;
  modifiedMs: number;
}

/** An error with the code a filesystem call would have failed with, which callers check. */
function codedError(code: 'EISDIR', message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

function view(file: StoredFile): Buffer {
  return file.bytes.subarray(0, file.length);
}

export interface MemoryDriverOptions {
  /**
   * Whether it offers the filesystem's operations (Driver.files): with them the image store
   * takes the paths it takes on a disk, without them those it takes on an object store.
   */
  fileOperations?: boolean;
}

/**
 * A driver that keeps everything in this process's memory: for unit tests of the image store and
 * of what sits on it, which need a real driver but neither a disk nor a server. It keeps the
 * whole contract (test/storage/testing/driver-suite.ts), with directories being nothing more than
 * the prefixes of keys, as in an object store, and the filesystem's operations when asked for.
 * Nothing survives the process, so it is never offered in porthole's configuration.
 */
export class MemoryDriver implements Driver, FileOperations {
  readonly name = 'memory';
  readonly files: FileOperations | undefined;
  private readonly stored = new Map<string, StoredFile>();
  /**
   * When each directory (a prefix of keys) last gained or lost an entry, as a filesystem keeps a
   * directory's modification time: the image store's tag lists use it to know their cache is stale.
   */
  private readonly directoryTimes = new Map<string, number>();

  constructor(options: MemoryDriverOptions = {}) {
    this.files = options.fileOperations === false ? undefined : this;
  }

  async init(): Promise<void> {}

  async attach(): Promise<void> {}

  async read(path: string): Promise<Buffer | undefined> {
    const file = this.stored.get(checkedStorageKey(path));
    return file === undefined ? undefined : Buffer.from(view(file));
  }

  async writeAtomic(path: string, data: Uint8Array | string, _options?: WriteOptions): Promise<void> {
    // A new file object replaces the old in one step: a reader holds one or the other.
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    this.place(checkedStorageKey(path), { bytes, length: bytes.length, modifiedMs: Date.now() });
  }

  async createExclusive(path: string, data: string): Promise<boolean> {
    const key = checkedStorageKey(path);
    if (this.stored.has(key)) return false;
    const bytes = Buffer.from(data, 'utf8');
    this.place(key, { bytes, length: bytes.length, modifiedMs: Date.now() });
    return true;
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const key = checkedStorageKey(path);
    const file = this.stored.get(key);
    return file === undefined ? undefined : { size: file.length, modifiedMs: file.modifiedMs };
  }

  async directoryModified(path: string): Promise<number | undefined> {
    const key = checkedStorageKey(path);
    // A directory: there while something is under it, as in an object store.
    if (this.keysUnder(key).length === 0) return undefined;
    return this.directoryTimes.get(key) ?? 0;
  }

  async touch(path: string): Promise<boolean> {
    const file = this.stored.get(checkedStorageKey(path));
    if (file === undefined) return false;
    file.modifiedMs = Date.now();
    return true;
  }

  readStream(path: string, range?: { start: number; end: number }): Readable {
    const files = this.stored;
    return Readable.from(
      (async function* () {
        const file = files.get(checkedStorageKey(path));
        if (file === undefined) throw missingObject(`no file at "${path}"`);
        // The bytes as they are when reading starts: a replacement is a new file object.
        const bytes = view(file);
        const end = Math.min(range?.end ?? bytes.length - 1, bytes.length - 1);
        for (let at = range?.start ?? 0; at <= end; at += READ_CHUNK_BYTES) yield Buffer.from(bytes.subarray(at, Math.min(at + READ_CHUNK_BYTES, end + 1)));
      })(),
      { objectMode: false },
    );
  }

  followStream(file: GrowingFile, range: { start: number; end: number }): Readable {
    const files = this.stored;
    return Readable.from(
      (async function* () {
        let at = range.start;
        while (at <= range.end) {
          const failure = file.failure();
          if (failure !== undefined) throw failure;
          const stored = files.get(checkedStorageKey(file.path()));
          const until = Math.min(file.available(), range.end + 1, stored?.length ?? 0);
          if (stored !== undefined && until > at) {
            const next = Math.min(until, at + READ_CHUNK_BYTES);
            yield Buffer.from(stored.bytes.subarray(at, next));
            at = next;
            continue;
          }
          if (file.complete()) {
            if (stored === undefined) throw missingObject(`no file at "${file.path()}"`);
            // Complete and still short of the range: the file was never going to hold it.
            throw new Error(`"${file.path()}" ended at ${stored.length} bytes, before byte ${range.end}`);
          }
          await file.changed();
        }
      })(),
      { objectMode: false },
    );
  }

  async list(path: string): Promise<string[]> {
    const prefix = `${checkedStorageKey(path)}/`;
    const names = new Set<string>();
    for (const key of this.stored.keys()) if (key.startsWith(prefix)) names.add(key.slice(prefix.length).split('/')[0] as string);
    return [...names];
  }

  async move(from: string, to: string): Promise<void> {
    const source = checkedStorageKey(from);
    const target = checkedStorageKey(to);
    const file = this.stored.get(source);
    if (file === undefined) throw missingObject(`no object at "${from}"`);
    if (this.keysUnder(target).length > 0) throw codedError('EISDIR', `"${to}" is a directory`);
    this.forget(source);
    this.place(target, file);
  }

  async renameDirectory(from: string, to: string): Promise<void> {
    const source = checkedStorageKey(from);
    const target = checkedStorageKey(to);
    const moving = this.keysUnder(source);
    if (moving.length === 0) throw missingObject(`nothing under "${from}"`);
    if (this.stored.has(target) || this.keysUnder(target).length > 0) throw notEmpty(to);
    for (const key of moving) {
      this.place(target + key.slice(source.length), this.stored.get(key) as StoredFile);
      this.forget(key);
    }
  }

  writer(path: string): ObjectWriter {
    const key = checkedStorageKey(path);
    const chunks: Buffer[] = [];
    let state: 'open' | 'failed' | 'ended' = 'open';
    let written = 0;
    return {
      get written() {
        return written;
      },
      append: async (source, watch = {}) => {
        if (state !== 'open') throw new Error('an object writer was used after a failure, a commit or a cancel');
        let taken = 0;
        try {
          await drainChunks(source, (chunk) => {
            watch.onChunk?.(chunk);
            chunks.push(Buffer.from(chunk));
            taken += chunk.length;
            watch.onWritten?.(taken);
          });
        } catch (err) {
          state = 'failed';
          throw err;
        }
        written += taken;
        return taken;
      },
      commit: async () => {
        if (state !== 'open') throw new Error('an object writer was committed after a failure, a commit or a cancel');
        state = 'ended';
        const bytes = Buffer.concat(chunks);
        this.place(key, { bytes, length: bytes.length, modifiedMs: Date.now() });
      },
      cancel: async () => {
        state = 'ended';
        chunks.length = 0;
      },
    };
  }

  async remove(path: string): Promise<void> {
    const key = checkedStorageKey(path);
    this.forget(key);
    for (const under of this.keysUnder(key)) this.forget(under);
  }

  async writeStreamAt(path: string, offset: number, source: Readable, watch: WriteWatch = {}): Promise<number> {
    const key = checkedStorageKey(path);
    let file = this.stored.get(key);
    if (file === undefined) {
      file = { bytes: Buffer.alloc(0), length: 0, modifiedMs: Date.now() };
      this.place(key, file);
    }
    const target = file;
    // As the filesystem driver's ftruncate: bytes past the offset go, a gap up to it reads as zeros.
    if (target.length < offset) {
      this.grow(target, offset);
      target.bytes.fill(0, target.length, offset);
    }
    target.length = offset;
    let written = 0;
    try {
      await drainChunks(source, (chunk) => {
        watch.onChunk?.(chunk);
        this.grow(target, offset + written + chunk.length);
        chunk.copy(target.bytes, offset + written);
        written += chunk.length;
        target.length = offset + written;
        target.modifiedMs = Date.now();
        watch.onWritten?.(written);
      });
      return written;
    } catch (err) {
      target.length = offset;
      throw err;
    }
  }

  async commit(from: string, to: string): Promise<void> {
    const target = checkedStorageKey(to);
    if (this.stored.has(target)) return;
    const file = this.stored.get(checkedStorageKey(from));
    if (file === undefined) throw missingObject(`no object at "${from}"`);
    // As a hard link: the same bytes, dated as the source is.
    const bytes = Buffer.from(view(file));
    this.place(target, { bytes, length: bytes.length, modifiedMs: file.modifiedMs });
  }

  async truncate(path: string, size: number): Promise<void> {
    const file = this.stored.get(checkedStorageKey(path));
    if (file === undefined) throw missingObject(`no file at "${path}"`);
    if (size > file.length) {
      this.grow(file, size);
      file.bytes.fill(0, file.length, size);
    }
    file.length = size;
    file.modifiedMs = Date.now();
  }

  /** Stores `file` at `key`, and dates the directories above it as changed (an entry came or was replaced). */
  private place(key: string, file: StoredFile): void {
    this.stored.set(key, file);
    this.directoriesChanged(key);
  }

  private forget(key: string): void {
    if (this.stored.delete(key)) this.directoriesChanged(key);
  }

  /**
   * Every directory above `key`, not only its own: a filesystem dates only the one whose entries
   * changed, and a later time on the others can only make a cache look stale a little more often.
   */
  private directoriesChanged(key: string): void {
    const now = Date.now();
    for (let slash = key.lastIndexOf('/'); slash > 0; slash = key.lastIndexOf('/', slash - 1)) this.directoryTimes.set(key.slice(0, slash), now);
  }

  private keysUnder(prefix: string): string[] {
    const start = `${prefix}/`;
    return [...this.stored.keys()].filter((key) => key.startsWith(start));
  }

  /** Room for `size` bytes, doubling as a disk file's appends would not need to. */
  private grow(file: StoredFile, size: number): void {
    if (file.bytes.length >= size) return;
    const grown = Buffer.alloc(Math.max(size, file.bytes.length * 2, 4096));
    file.bytes.copy(grown, 0, 0, file.length);
    file.bytes = grown;
  }
}
