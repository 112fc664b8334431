import type { Readable } from 'node:stream';

export interface FileInfo {
  size: number;
  modifiedMs: number;
}

/** A file that another write is still filling, for readers that follow it (Driver.followStream). */
export interface GrowingFile {
  /** Where the file is now (a driver path); it may move once it is complete. */
  path(): string;
  /** Bytes from its start that are written and may be read. */
  available(): number;
  /** Why it will never be complete, once that is known. */
  failure(): Error | undefined;
  /** True once nothing more will change (written in full and in its final place, or failed). */
  complete(): boolean;
  /** Resolves at the next change of any of the above. */
  changed(): Promise<void>;
}

/** What a streamed write tells as it goes (see Driver.writeStreamAt). */
export interface WriteWatch {
  onChunk?: (chunk: Buffer) => void;
  /** Bytes of this write that are in the file so far. */
  onWritten?: (written: number) => void;
}

export interface WriteOptions {
  /** Default true: on disk before the promise resolves. */
  durable?: boolean;
}

/**
 * The byte-moving layer under the image store (zot's Driver, distribution's StorageDriver).
 * Paths are relative, '/'-separated keys chosen by the image store; a driver never interprets
 * them. Every write that a caller may report to a client as stored must be durable when the
 * returned promise resolves.
 */
export interface Driver {
  readonly name: string;
  /** Prepares the backing store (creates the root, clears staging left by a killed process). */
  init(): Promise<void>;
  /**
   * Prepares the backing store for a process working beside the one that serves it (a CLI job):
   * creates what is missing and, unlike init, clears nothing another process may be using.
   */
  attach(): Promise<void>;
  /** Whole small files (links, manifests); undefined when absent. */
  read(path: string): Promise<Buffer | undefined>;
  /**
   * Replaces the file atomically: readers see the old bytes or the new, never a part. Durably
   * (on disk when it resolves) unless `durable: false`, for files nobody was promised.
   */
  writeAtomic(path: string, data: Uint8Array | string, options?: WriteOptions): Promise<void>;
  /**
   * Writes a small file only when nothing is at `path` yet, atomically with that check: true when
   * it was written, false when a file was there. What locks in storage are made of.
   */
  createExclusive(path: string, data: string): Promise<boolean>;
  stat(path: string): Promise<FileInfo | undefined>;
  /**
   * Sets a file's modification time to now, not durably: a mark that the file was just used
   * (garbage collection leaves recently used content alone), never data anyone was promised.
   * Resolves false when there is no file at `path`.
   */
  touch(path: string): Promise<boolean>;
  /** Streams a file, or the inclusive byte range of it. */
  readStream(path: string, range?: { start: number; end: number }): Readable;
  /**
   * Streams bytes `range` of a file still being written, reading as far as `file.available()`
   * and waiting for more; it fails with `file.failure()`. It goes on reading across the file's
   * move to its final place.
   */
  followStream(file: GrowingFile, range: { start: number; end: number }): Readable;
  /** Names directly inside a directory; [] when it does not exist. */
  list(path: string): Promise<string[]>;
  /** Renames a file or directory atomically; rejects (ENOENT, ENOTEMPTY...) when it cannot. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file or a whole directory; absent paths are not an error. */
  remove(path: string): Promise<void>;
  /**
   * Writes `source` into `path` starting at `offset`, showing each chunk to `watch.onChunk` first
   * (the upload's hash, the request's byte count) and telling `watch.onWritten` how many bytes are
   * in the file so far, readable by others (the pull-through cache's readers);
   * on any failure the file is cut back to `offset` and the error rethrown, so a broken chunk
   * never becomes part of the data. Resolves with the number of bytes written. Not durable by
   * itself: `commit` makes the finished file durable before it becomes visible.
   */
  writeStreamAt(path: string, offset: number, source: Readable, watch?: WriteWatch): Promise<number>;
  /**
   * Durably gives a finished file its content-addressed home, leaving the source in place for
   * the caller to remove once everything that depends on the commit is durable too. When the
   * target already exists (the same content, by construction) it is kept as it is.
   */
  commit(from: string, to: string): Promise<void>;
  /** Cuts a file back to `size` bytes. */
  truncate(path: string, size: number): Promise<void>;
}
