import type { Readable } from 'node:stream';

export interface FileInfo {
  size: number;
  modifiedMs: number;
}

/** A file that another write is still filling, for readers that follow it (FileOperations.followStream). */
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

/** What a streamed write tells as it goes (ObjectWriter.append, FileOperations.writeStreamAt). */
export interface WriteWatch {
  onChunk?: (chunk: Buffer) => void;
  /** Bytes of this write that are stored so far (readable by others only where a driver can follow a file). */
  onWritten?: (written: number) => void;
}

export interface WriteOptions {
  /** Default true: on disk before the promise resolves. */
  durable?: boolean;
}

/**
 * An object written from streams and then committed or cancelled as a whole (an S3 multipart
 * upload, a staged file renamed into place): until `commit` resolves nobody sees any of it.
 */
export interface ObjectWriter {
  /**
   * Appends every byte of `source`, showing each chunk to `watch.onChunk` first; resolves with
   * how many it took. After a failure the writer can only be cancelled.
   */
  append(source: Readable, watch?: WriteWatch): Promise<number>;
  /** Bytes appended so far. */
  readonly written: number;
  /** Makes the object durable and visible at its key at once, replacing what was there. */
  commit(): Promise<void>;
  /** Drops everything appended; nothing of it was ever visible. Never rejects. */
  cancel(): Promise<void>;
}

/**
 * What only a filesystem (or a driver that keeps files as one) can do. The image store uses
 * these when a driver has them and does without when it has not (issue 18): uploads append to
 * one file instead of storing each chunk as an object, the pull-through cache's readers follow a
 * download as it is written instead of waiting for the verified blob, pruning and garbage
 * collection park a blob's directory in one rename instead of moving its objects one by one,
 * and tag lists are cached by their directory's modification time instead of being listed again.
 */
export interface FileOperations {
  /**
   * Writes `source` into `path` starting at `offset`, showing each chunk to `watch.onChunk` first
   * (the upload's hash, the request's byte count) and telling `watch.onWritten` how many bytes are
   * in the file so far, readable by others (the pull-through cache's readers);
   * on any failure the file is cut back to `offset` and the error rethrown, so a broken chunk
   * never becomes part of the data. Resolves with the number of bytes written. Not durable by
   * itself: `commit` makes the finished file durable before it becomes visible.
   */
  writeStreamAt(path: string, offset: number, source: Readable, watch?: WriteWatch): Promise<number>;
  /** Cuts a file back to `size` bytes. */
  truncate(path: string, size: number): Promise<void>;
  /**
   * Streams bytes `range` of a file still being written, reading as far as `file.available()`
   * and waiting for more; it fails with `file.failure()`. It goes on reading across the file's
   * move to its final place.
   */
  followStream(file: GrowingFile, range: { start: number; end: number }): Readable;
  /** Renames a whole directory atomically; rejects (ENOENT, ENOTEMPTY...) when it cannot. */
  renameDirectory(from: string, to: string): Promise<void>;
  /** When a directory last gained or lost an entry; undefined when there is no such directory. */
  directoryModified(path: string): Promise<number | undefined>;
}

/**
 * How the processes that share one storage tell each other that content under `repositories/`
 * changed, so that one may keep in memory what the others can change (serve's tags and
 * revisions; a CLI job beside it moves them). Delivery to the other processes is asynchronous
 * but ordered before anything the announcing process does next; delivery within the process is
 * immediate.
 */
export interface ChangeFeed {
  /** Tells every watcher, here and in other processes, that something under `repositories/` changed. */
  announce(): Promise<void>;
  /**
   * Calls `onChange` at every announcement (of other processes; of this one, at once), and
   * `onLost` if the feed breaks (then nothing more is delivered). Throws when it cannot watch at
   * all. Returns what stops watching.
   */
  watch(onChange: () => void, onLost: (err: Error) => void): () => void;
}

/**
 * The byte-moving layer under the image store (zot's Driver, distribution's StorageDriver): the
 * operations of an object store, with what only a filesystem can do as an optional extra
 * (`files`). Paths are relative, '/'-separated keys chosen by the image store; a driver never
 * interprets them. A "directory" is a prefix of keys: it is there while something is under it.
 * Every write that a caller may report to a client as stored must be durable when the returned
 * promise resolves.
 */
export interface Driver {
  readonly name: string;
  /** Present when the driver can do what only a filesystem does (see FileOperations). */
  readonly files?: FileOperations;
  /**
   * Present when processes sharing this storage can tell each other of changes (the filesystem:
   * a CLI job beside serve), which is what lets serve keep tags and revisions in memory.
   */
  readonly changes?: ChangeFeed;
  /**
   * A URL at which a client can GET the object itself for `seconds` (S3's presigned URL), where
   * the driver's store can be reached by clients; absent where it cannot.
   */
  presignedGet?(path: string, seconds: number): Promise<string>;
  /** Prepares the backing store (creates the root, clears staging left by a killed process). */
  init(): Promise<void>;
  /**
   * Prepares the backing store for a process working beside the one that serves it (a CLI job):
   * creates what is missing and, unlike init, clears nothing another process may be using.
   */
  attach(): Promise<void>;
  /** Whole small objects (links, manifests); undefined when absent. */
  read(path: string): Promise<Buffer | undefined>;
  /**
   * Replaces the object atomically: readers see the old bytes or the new, never a part. Durably
   * (stored when it resolves) unless `durable: false`, for objects nobody was promised.
   */
  writeAtomic(path: string, data: Uint8Array | string, options?: WriteOptions): Promise<void>;
  /** An object written from streams and committed (or cancelled) as a whole at `path`. */
  writer(path: string): ObjectWriter;
  /**
   * Writes a small object only when nothing is at `path` yet, atomically with that check: true
   * when it was written, false when an object was there. What locks in storage are made of
   * (where several processes share a store without Redis).
   */
  createExclusive(path: string, data: string): Promise<boolean>;
  /** An object's size and modification time; undefined when there is no object at `path`. */
  stat(path: string): Promise<FileInfo | undefined>;
  /**
   * stat's answer, possibly as this process last saw it and has kept since (serve keeps layer
   * links and blob data in memory: link-cache.ts), for a read's answer (a blob HEAD or GET), never
   * for a decision that stores something (a manifest's references, a mount's source). A driver
   * that keeps nothing has none: stat then.
   */
  statKept?(path: string): Promise<FileInfo | undefined>;
  /**
   * read's and statKept's answers when this process keeps them in memory (link-cache.ts: tags and
   * manifest revisions as read, layer links and blob data as stat'ed), synchronously; undefined
   * when nothing is kept, which says nothing of storage (read or statKept then). Lets a GET or
   * HEAD answered from memory skip the promises of its reads.
   */
  readFromMemory?(path: string): Buffer | undefined;
  statFromMemory?(path: string): FileInfo | undefined;
  /**
   * Sets an object's modification time to now, not durably: a mark that it was just used
   * (garbage collection leaves recently used content alone), never data anyone was promised.
   * Resolves false when there is no object at `path`.
   */
  touch(path: string): Promise<boolean>;
  /** Streams an object, or the inclusive byte range of it. */
  readStream(path: string, range?: { start: number; end: number }): Readable;
  /** Names directly under a prefix: objects and deeper prefixes alike, once each; [] when nothing is there. */
  list(path: string): Promise<string[]>;
  /**
   * Moves one object to another key, replacing what was there; rejects with code ENOENT when
   * there is nothing at `from`. Atomic where the driver has `files` (a rename); elsewhere a copy
   * and a delete, so a reader may briefly find the object at both keys, never at neither.
   */
  move(from: string, to: string): Promise<void>;
  /** Removes an object or everything under a prefix; absent paths are not an error. */
  remove(path: string): Promise<void>;
  /**
   * Durably gives a finished object its content-addressed home (a hard link, a server-side
   * copy), leaving the source in place for the caller to remove once everything that depends on
   * the commit is durable too. When the target already exists (the same content, by
   * construction) it is kept as it is.
   */
  commit(from: string, to: string): Promise<void>;
}

/** A driver's failure for a key with nothing at it, with the code a filesystem call would give, which callers check. */
export function missingObject(message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: ${message}`), { code: 'ENOENT' });
}

/** A driver's refusal to move a directory onto one that is not empty, with a rename's code (ENOTEMPTY). */
export function notEmpty(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTEMPTY: "${path}" is not empty`), { code: 'ENOTEMPTY' });
}

/** Whether a driver call failed because there was nothing at its key. */
export function isMissingObject(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
