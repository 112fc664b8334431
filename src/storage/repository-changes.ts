import type { Readable } from 'node:stream';
import type { ChangeFeed, Driver, FileInfo, FileOperations, ObjectWriter, WriteOptions } from './driver.js';
import { BLOBS, REPOSITORIES, isAtOrUnder, isStorageRoot } from './layout.js';

/** What a decorator does around each change of content under `repositories/`. */
export interface ChangeHooks {
  /** As the change starts. */
  starting(path: string): void;
  /** Once it has settled, done or failed; the change's own promise waits for this one. */
  settled(path: string): Promise<void> | void;
}

/**
 * Whether a change at `path` may touch what serve keeps of stored content (link-cache.ts): anything
 * in or above `repositories/` (a repository's links, or a repository moved or removed whole) or
 * `blobs/` (a blob's data committed, parked, put back or removed); uploads and bookkeeping never do.
 */
export function touchesStoredContent(path: string): boolean {
  return isAtOrUnder(path, REPOSITORIES) || isAtOrUnder(path, BLOBS) || isStorageRoot(path);
}

/**
 * A Driver that tells `hooks` of every change it makes under `repositories/` or `blobs/` (writes, removals,
 * moves, commits, a directory renamed), whichever part of porthole makes it: the decorator sees
 * them all, where the image store's many writers (pushes, deletes, garbage collection, pruning,
 * restores) would each have to remember. Everything else goes straight to the driver under it.
 */
export class RepositoryChangesDriver implements Driver {
  readonly name: string;
  readonly files: FileOperations | undefined;
  readonly presignedGet: Driver['presignedGet'];
  readonly changes: ChangeFeed | undefined;

  constructor(
    protected readonly inner: Driver,
    private readonly hooks: ChangeHooks,
  ) {
    this.name = inner.name;
    this.changes = inner.changes;
    this.presignedGet = inner.presignedGet?.bind(inner);
    const files = inner.files;
    this.files = files && {
      writeStreamAt: (path, offset, source, watch) => this.change([path], () => files.writeStreamAt(path, offset, source, watch)),
      truncate: (path, size) => this.change([path], () => files.truncate(path, size)),
      followStream: (file, range) => files.followStream(file, range),
      renameDirectory: (from, to) => this.change([from, to], () => files.renameDirectory(from, to)),
      directoryModified: (path) => files.directoryModified(path),
    };
  }

  /** Runs a change, with the hooks around it when it touches a repository. */
  private change<T>(paths: string[], work: () => Promise<T>): Promise<T> {
    const touched = paths.filter(touchesStoredContent);
    if (touched.length === 0) return work();
    for (const path of touched) this.hooks.starting(path);
    const settle = async (): Promise<void> => {
      for (const path of touched) await this.hooks.settled(path);
    };
    return work().then(
      async (value) => {
        await settle();
        return value;
      },
      async (err: unknown) => {
        await settle();
        throw err;
      },
    );
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  attach(): Promise<void> {
    return this.inner.attach();
  }

  read(path: string): Promise<Buffer | undefined> {
    return this.inner.read(path);
  }

  writeAtomic(path: string, data: Uint8Array | string, options?: WriteOptions): Promise<void> {
    return this.change([path], () => this.inner.writeAtomic(path, data, options));
  }

  writer(path: string): ObjectWriter {
    const inner = this.inner.writer(path);
    return {
      get written() {
        return inner.written;
      },
      append: (source, watch) => inner.append(source, watch),
      commit: () => this.change([path], () => inner.commit()),
      cancel: () => inner.cancel(),
    };
  }

  createExclusive(path: string, data: string): Promise<boolean> {
    return this.change([path], () => this.inner.createExclusive(path, data));
  }

  stat(path: string): Promise<FileInfo | undefined> {
    return this.inner.stat(path);
  }

  /** Only an object's date changes: nothing anyone keeps of its content. */
  touch(path: string): Promise<boolean> {
    return this.inner.touch(path);
  }

  readStream(path: string, range?: { start: number; end: number }): Readable {
    return this.inner.readStream(path, range);
  }

  list(path: string): Promise<string[]> {
    return this.inner.list(path);
  }

  move(from: string, to: string): Promise<void> {
    return this.change([from, to], () => this.inner.move(from, to));
  }

  remove(path: string): Promise<void> {
    return this.change([path], () => this.inner.remove(path));
  }

  commit(from: string, to: string): Promise<void> {
    return this.change([from, to], () => this.inner.commit(from, to));
  }
}

/**
 * For a process working beside serve (a CLI job): every change under `repositories/` or `blobs/` is
 * announced on the storage's change feed once made, so that serve forgets what it kept of it.
 */
export function announcingDriver(inner: Driver, feed: ChangeFeed): Driver {
  return new RepositoryChangesDriver(inner, { starting: () => undefined, settled: () => feed.announce() });
}
