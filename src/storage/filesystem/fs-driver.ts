import { randomUUID } from 'node:crypto';
import { close, constants, ftruncate, open as openCallback, readFile as readFileCallback } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, truncate, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { isMissingObject, type Driver, type FileInfo, type FileOperations, type GrowingFile, type ObjectWriter, type WriteOptions, type WriteWatch } from '../driver.js';
import { streamIntoFile } from './batched-fd-writer.js';
import { writebackUseful } from './early-writeback.js';
import { FileRangeStream } from './file-range-stream.js';
import { FilesystemChangeFeed } from './fs-change-feed.js';
import { StagedFileWriter } from './staged-file-writer.js';
import { ensureDirectory } from './ensure-directory.js';
import { fsyncPath } from './fsync-path.js';
import { checkedStorageKey } from '../storage-key.js';

const openFd = promisify(openCallback);
const ftruncateFd = promisify(ftruncate);
const closeFd = promisify(close);

/** Where atomic writes are staged: inside the root, so that rename never crosses filesystems. */
const STAGING_DIR = '_tmp';

/**
 * Local-disk driver: temp file + fsync + rename + directory fsync for every durable write. It has
 * every file operation (positioned writes, following a growing file, directory renames and times)
 * and serves reads by sendfile where it can.
 */
export class FilesystemDriver implements Driver, FileOperations {
  readonly name = 'filesystem';
  readonly files: FileOperations = this;
  readonly root: string;
  /** A CLI job beside serve announces its changes to tags and revisions here (fs-change-feed.ts). */
  readonly changes: FilesystemChangeFeed;
  /** Whether blob streams piped into HTTP responses may use sendfile (file-range-stream.ts). */
  private readonly zeroCopy: boolean;
  /**
   * Whether uploads' bytes are flushed as they arrive (early-writeback.ts): asked of the root's
   * filesystem once. A mount below the root (uploads/ elsewhere) would only make flushes wasted
   * or missing, which costs speed, never durability: commit fsyncs either way.
   */
  private earlyWriteback: Promise<boolean> | undefined;

  constructor(root: string, options: { zeroCopy?: boolean } = {}) {
    this.root = root;
    this.zeroCopy = options.zeroCopy ?? true;
    this.changes = new FilesystemChangeFeed(root);
  }

  /** Creates the root and clears staging files that a killed process left behind. */
  async init(): Promise<void> {
    await ensureDirectory(this.root);
    await rm(join(this.root, STAGING_DIR), { recursive: true, force: true });
    await ensureDirectory(join(this.root, STAGING_DIR));
    this.prepareChanges();
  }

  async attach(): Promise<void> {
    await ensureDirectory(this.root);
    await ensureDirectory(join(this.root, STAGING_DIR));
    this.prepareChanges();
  }

  /**
   * The change feed's marker; a storage where it cannot be made (a full disk) still serves, only
   * without tags and revisions in memory (nothing can follow a marker that is not there).
   */
  private prepareChanges(): void {
    try {
      this.changes.prepare();
    } catch {
      // The feed's watch fails in turn, and says so in the log.
    }
  }

  private full(path: string): string {
    return join(this.root, ...checkedStorageKey(path).split('/'));
  }

  read(path: string): Promise<Buffer | undefined> {
    // The callback readFile, not fs/promises': for the tiny link and tag files read on every
    // manifest request it makes fewer trips through the thread pool (a profile showed the
    // FileHandle-based one spending most of a request's CPU time in open/fstat/read/close).
    // One promise per read, not an async function around a promisified call: this runs twice
    // per manifest GET, and each promise costs more once tracing tracks asynchronous context.
    let full: string;
    try {
      full = this.full(path);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      readFileCallback(full, (err, bytes) => {
        if (!err) resolve(bytes);
        else if (isMissingObject(err)) resolve(undefined);
        else reject(err);
      });
    });
  }

  async writeAtomic(path: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<void> {
    const durable = options.durable ?? true;
    const target = this.full(path);
    const staged = join(this.root, STAGING_DIR, randomUUID());
    const handle = await open(staged, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } catch (err) {
      // A full disk fails here: the partial staging file must not wait for a restart to go.
      await handle.close().catch(() => undefined);
      await rm(staged, { force: true });
      throw err;
    }
    await handle.close();
    await this.place(staged, target, durable);
  }

  async createExclusive(path: string, data: string): Promise<boolean> {
    const target = this.full(path);
    await mkdir(dirname(target), { recursive: true });
    let handle;
    try {
      handle = await open(target, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(target, { force: true });
      throw err;
    }
    await handle.close();
    return true;
  }

  /** Renames a staged file into place; durably, the directory entry is fsynced too. */
  private async place(staged: string, target: string, durable: boolean): Promise<void> {
    const parent = dirname(target);
    try {
      await mkdir(parent, { recursive: true });
      await rename(staged, target);
    } catch (err) {
      await rm(staged, { force: true });
      throw err;
    }
    if (durable) await fsyncPath(parent);
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    try {
      const info = await stat(this.full(path));
      // Objects only, as in an object store: a directory is a prefix, not something with a size.
      return info.isFile() ? { size: info.size, modifiedMs: info.mtimeMs } : undefined;
    } catch (err) {
      if (isMissingObject(err)) return undefined;
      throw err;
    }
  }

  async touch(path: string): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.full(path), now, now);
      return true;
    } catch (err) {
      if (isMissingObject(err)) return false;
      throw err;
    }
  }

  readStream(path: string, range?: { start: number; end: number }): Readable {
    return new FileRangeStream(this.full(path), range, this.zeroCopy);
  }

  followStream(file: GrowingFile, range: { start: number; end: number }): Readable {
    return new FileRangeStream({ ...file, path: () => this.full(file.path()) }, range, this.zeroCopy);
  }

  async list(path: string): Promise<string[]> {
    try {
      return await readdir(this.full(path));
    } catch (err) {
      if (isMissingObject(err)) return [];
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    await rm(this.full(path), { recursive: true, force: true });
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.full(from);
    const target = this.full(to);
    try {
      await rename(source, target);
    } catch (err) {
      // The target's directory may not exist yet; the source's absence is the caller's ENOENT.
      if (!isMissingObject(err) || !(await this.stat(from))) throw err;
      await mkdir(dirname(target), { recursive: true });
      await rename(source, target);
    }
  }

  async renameDirectory(from: string, to: string): Promise<void> {
    await rename(this.full(from), this.full(to));
  }

  async directoryModified(path: string): Promise<number | undefined> {
    try {
      const info = await stat(this.full(path));
      return info.isDirectory() ? info.mtimeMs : undefined;
    } catch (err) {
      if (isMissingObject(err)) return undefined;
      throw err;
    }
  }

  writer(path: string): ObjectWriter {
    const target = this.full(path);
    return new StagedFileWriter(join(this.root, STAGING_DIR), (staged) => this.place(staged, target, true));
  }

  async writeStreamAt(path: string, offset: number, source: Readable, watch: WriteWatch = {}): Promise<number> {
    const target = this.full(path);
    await mkdir(dirname(target), { recursive: true });
    // Read-write without O_TRUNC keeps the bytes before offset; O_CREAT makes the first chunk's file.
    const fd = await openFd(target, constants.O_RDWR | constants.O_CREAT, 0o644);
    // Positioned writes from an async sink, not fs.WriteStream: a WriteStream destroyed by a client
    // that hangs up mid-body closes its fd even with autoClose: false, and the cut-back and close
    // below then hit a closed fd, or worse one already reused by another request's file.
    try {
      await ftruncateFd(fd, offset);
      // No fsync here: chunks become durable when the finished blob is committed (commit fsyncs
      // it first); until then the client was promised nothing, and the final digest check
      // catches anything a power loss might have torn.
      this.earlyWriteback ??= writebackUseful(this.root);
      return await streamIntoFile(fd, offset, source, watch, await this.earlyWriteback);
    } catch (err) {
      // No write is still running (streamIntoFile waits for them): cut the file back.
      await ftruncateFd(fd, offset).catch(() => undefined);
      throw err;
    } finally {
      await closeFd(fd);
    }
  }

  /**
   * A hard link, not a rename: the finished file stays in its session until the caller removes
   * it, so that a process killed at any point of a commit leaves the bytes either in their home
   * or still in the session (see UploadSessions.finish).
   */
  async commit(from: string, to: string): Promise<void> {
    if (await this.stat(to)) return;
    const source = this.full(from);
    const target = this.full(to);
    await fsyncPath(source);
    const parent = dirname(target);
    await mkdir(parent, { recursive: true });
    try {
      await link(source, target);
    } catch (err) {
      // Another commit of the same content got there first: the same bytes, by construction.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    await fsyncPath(parent);
  }

  async truncate(path: string, size: number): Promise<void> {
    await truncate(this.full(path), size);
  }
}
