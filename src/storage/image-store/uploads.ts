import { randomUUID, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isClientAbort } from '../../runtime/client-abort.js';
import { isDigestAlgorithm, newHash, type Digest, type DigestAlgorithm } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { uploadRangeHeader } from '../../core/ranges.js';
import type { Driver } from '../driver.js';
import { KeyedLock, type SharedLocks } from '../keyed-lock.js';
import { layout, UPLOADS } from '../layout.js';
import { isStorageFull } from '../storage-full.js';
import type { ChunkOptions, UploadOptions, UploadStatus } from '../types.js';
import { ChunkedUploadData } from './chunked-upload-data.js';
import { CompletedUploads } from './completed-uploads.js';
import { FileUploadData } from './file-upload-data.js';
import type { UploadData } from './upload-data.js';

interface SessionInfo {
  repo: string;
  algorithm: DigestAlgorithm;
  startedAt: number;
  /** Set for sessions nobody can resume (see UploadOptions): removed at start-up. */
  oneShot?: boolean;
}

/** In-memory hashing state of a session, so each byte is hashed once, as it arrives. */
interface LiveSession {
  hash: Hash;
  size: number;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function isSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

function storageFull(what: string): RegistryError {
  return new RegistryError('STORAGE_FULL', `storage is full: ${what}; the upload session was removed, push the blob again once there is room`);
}

/**
 * Upload sessions: data accumulates under uploads/<id>/ (never visible as a blob; see
 * upload-data.ts for its two forms), hashed while it streams in; only verified, durable content
 * is given its home in blobs/. A session's requests are serialised so that chunks cannot
 * interleave.
 */
export class UploadSessions {
  private readonly live = new Map<string, LiveSession>();
  private readonly lock: SharedLocks;
  /**
   * One-shot sessions (the pull-through cache's downloads) are this process's alone: nobody can
   * resume them elsewhere, so their requests are serialised here, without asking Redis (whose
   * absence must not stop pulls).
   */
  private readonly privateLock = new KeyedLock();
  private readonly privateSessions = new Set<string>();
  private readonly completed: CompletedUploads;
  private readonly data: UploadData;

  constructor(
    private readonly driver: Driver,
    /** Links a committed blob; false when its data vanished meanwhile (garbage collection), and it must be committed again. */
    private readonly onBlobStored: (repo: string, digest: Digest, size: number) => Promise<boolean>,
    /** Serialises each session's requests (keyed by session id). */
    lock: SharedLocks,
  ) {
    this.lock = lock;
    this.completed = new CompletedUploads(driver);
    this.data = driver.files ? new FileUploadData(driver, driver.files) : new ChunkedUploadData(driver);
  }

  /** Where the pull-through cache's readers follow a session's bytes as they are written; undefined where the driver cannot. */
  growingPath(id: string): string | undefined {
    return this.data.growingPath?.(id);
  }

  async start(repo: string, algorithm: DigestAlgorithm = 'sha256', options: UploadOptions = {}): Promise<UploadStatus> {
    const id = randomUUID();
    const info: SessionInfo = { repo, algorithm, startedAt: Date.now() };
    if (options.oneShot) info.oneShot = true;
    // Not durable: a session lost to a power cut only makes its client start again.
    await this.driver.writeAtomic(layout.uploadInfo(id), JSON.stringify(info), { durable: false });
    this.live.set(id, { hash: newHash(algorithm), size: 0 });
    if (options.oneShot) this.privateSessions.add(id);
    return { id, repo, size: 0 };
  }

  private async readInfo(repo: string, id: string): Promise<SessionInfo | undefined> {
    const info = await this.readAnyInfo(id);
    return info?.repo === repo ? info : undefined;
  }

  private async readAnyInfo(id: string): Promise<SessionInfo | undefined> {
    if (!isSessionId(id)) return undefined;
    const raw = await this.driver.read(layout.uploadInfo(id));
    if (!raw) return undefined;
    try {
      const info = JSON.parse(raw.toString('utf8')) as SessionInfo;
      return isDigestAlgorithm(info.algorithm) ? info : undefined;
    } catch {
      return undefined;
    }
  }

  private async requireInfo(repo: string, id: string): Promise<SessionInfo> {
    const info = await this.readInfo(repo, id);
    if (!info) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload session "${id.slice(0, 64)}" is unknown in ${repo}`);
    return info;
  }

  /**
   * The session's hash state; rebuilt from the stored data after a restart, or when another
   * replica has added to the session since this process last did.
   */
  private async liveSession(id: string, info: SessionInfo): Promise<LiveSession> {
    const known = this.live.get(id);
    if (known && !this.data.shared) return known;
    const size = await this.data.size(id);
    if (known?.size === size) return known;
    const session = { hash: await this.hashStoredData(id, size, info.algorithm), size };
    this.live.set(id, session);
    return session;
  }

  async status(repo: string, id: string): Promise<UploadStatus | undefined> {
    const info = await this.readInfo(repo, id);
    if (!info) return undefined;
    const known = this.data.shared ? undefined : this.live.get(id)?.size;
    const size = known ?? (await this.data.size(id));
    return { id, repo, size };
  }

  async append(repo: string, id: string, body: Readable, options: ChunkOptions): Promise<UploadStatus> {
    return this.lockOf(id).run(id, async () => {
      const info = await this.requireInfo(repo, id);
      return this.discardWhenFull(id, 'a chunk could not be written', () => this.appendLocked(repo, id, info, body, options));
    });
  }

  /**
   * A session whose write met a full disk is removed at once, with everything it held: its
   * client is told to start again, and the room its data took is needed more than a resumable
   * session that could not be finished anyway.
   */
  private async discardWhenFull<T>(id: string, what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      await this.discard(id);
      throw storageFull(what);
    }
  }

  private async appendLocked(repo: string, id: string, info: SessionInfo, body: Readable, options: ChunkOptions): Promise<UploadStatus> {
    const session = await this.liveSession(id, info);
    const rangeHeaders = { range: uploadRangeHeader(session.size), location: `/v2/${repo}/blobs/uploads/${id}`, 'docker-upload-uuid': id };
    const { range, contentLength } = options;
    if (range) {
      if (range.start !== session.size) {
        throw new RegistryError(
          'BLOB_UPLOAD_INVALID',
          `chunk starts at byte ${range.start} but the upload holds ${session.size} bytes; send the chunk that starts at ${session.size}`,
          { expectedStart: session.size },
          { status: 416, headers: rangeHeaders },
        );
      }
      const rangeLength = range.end - range.start + 1;
      if (contentLength !== undefined && contentLength !== rangeLength) {
        throw new RegistryError('SIZE_INVALID', `Content-Range covers ${rangeLength} bytes but Content-Length is ${contentLength}`);
      }
    }
    const before = session.hash.copy();
    let written: number;
    try {
      const { hash, size: before } = session;
      const { onChunk, onWritten } = options;
      const watch = {
        onChunk: (chunk: Buffer) => {
          hash.update(chunk);
          onChunk?.(chunk);
        },
        ...(onWritten ? { onWritten: (bytes: number) => onWritten(before + bytes) } : {}),
      };
      written = await this.data.append(id, before, body, watch, range ? range.end - range.start + 1 : contentLength);
    } catch (err) {
      session.hash = before;
      if (isClientAbort(err)) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'the request body ended before all its bytes arrived; nothing of this chunk was kept');
      }
      throw err;
    }
    const expected = range ? range.end - range.start + 1 : contentLength;
    if (expected !== undefined && written !== expected) {
      session.hash = before;
      throw new RegistryError('SIZE_INVALID', `expected ${expected} bytes in this chunk but received ${written}; nothing of it was kept`);
    }
    session.size += written;
    return { id, repo, size: session.size };
  }

  /**
   * Verifies the session's content against `digest`, then stores it. `onVerified` hears that the
   * content matched, before it is made durable and linked.
   *
   * The order makes a crash at any instant safe (docs/storage.md): the data gets its home in
   * blobs/ by a hard link, so the session keeps every byte until the blob is durable and linked;
   * the completion is recorded before the session is removed; so a retried PUT finds either the
   * whole session (and stores it again, idempotently) or the record, and answers 201 either way.
   */
  async finish(repo: string, id: string, digest: Digest, finalChunk?: { body: Readable; options: ChunkOptions }, onVerified?: () => void): Promise<{ size: number }> {
    return this.lockOf(id).run(id, async () => {
      const info = await this.readInfo(repo, id);
      if (!info) {
        const size = await this.completed.sizeOf(id, repo, digest);
        if (size !== undefined) return { size };
        throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload session "${id.slice(0, 64)}" is unknown in ${repo}`);
      }
      return this.discardWhenFull(id, 'the blob could not be stored', async () => {
        if (finalChunk) await this.appendLocked(repo, id, info, finalChunk.body, finalChunk.options);
        const session = await this.liveSession(id, info);
        const actual = await this.digestOf(id, session, info, digest.algorithm);
        if (actual !== digest.hex) {
          await this.discard(id);
          throw new RegistryError('DIGEST_INVALID', `the uploaded content has digest ${digest.algorithm}:${actual}, not ${digest.value}; the upload was discarded`, {
            expected: digest.value,
            actual: `${digest.algorithm}:${actual}`,
          });
        }
        onVerified?.();
        await this.data.commit(id, digest);
        if (!(await this.onBlobStored(repo, digest, session.size))) {
          // The same content was there already, old and unused, and a collection removed it
          // between the commit (which kept it) and the link: the session still holds every byte.
          await this.data.commit(id, digest);
          if (!(await this.onBlobStored(repo, digest, session.size))) throw new Error(`blob ${digest.value} was removed while it was being linked; push it again`);
        }
        // Only a retry cut off by a crash needs the record; the blob is stored without it.
        await this.completed.record(id, repo, digest, session.size).catch(() => undefined);
        await this.discard(id);
        return { size: session.size };
      });
    });
  }

  /** The digest of what was received: from the running hash, or re-read for another algorithm. */
  private async digestOf(id: string, session: LiveSession, info: SessionInfo, algorithm: DigestAlgorithm): Promise<string> {
    if (algorithm === info.algorithm) return session.hash.copy().digest('hex');
    return (await this.hashStoredData(id, session.size, algorithm)).digest('hex');
  }

  private async hashStoredData(id: string, size: number, algorithm: DigestAlgorithm): Promise<Hash> {
    const hash = newHash(algorithm);
    if (size > 0) {
      for await (const chunk of this.data.read(id)) hash.update(chunk as Buffer);
    }
    return hash;
  }

  async cancel(repo: string, id: string): Promise<boolean> {
    return this.lockOf(id).run(id, async () => {
      if (!(await this.readInfo(repo, id))) return false;
      await this.discard(id);
      return true;
    });
  }

  /** The lock that serialises session `id`'s requests. */
  private lockOf(id: string): SharedLocks {
    return this.privateSessions.has(id) ? this.privateLock : this.lock;
  }

  /**
   * Removes a session: its info first, so that a kill part-way leaves a session nobody knows (a
   * retried PUT then finds the completion record, and start-up removes the rest), never a known
   * session whose data is half gone, which a retry would verify as wrong content.
   */
  private async discard(id: string): Promise<void> {
    this.live.delete(id);
    this.privateSessions.delete(id);
    await this.driver.remove(layout.uploadInfo(id));
    await this.driver.remove(layout.upload(id));
  }

  /**
   * After a restart: removes the sessions nobody can resume (one-shot ones, and any whose info
   * is gone, as a kill during its removal leaves it); resolves with how many went. Resumable
   * sessions stay until `uploadExpiry`.
   */
  async removeOrphans(): Promise<number> {
    // A store that other replicas share holds their sessions too, one-shot downloads in flight
    // among them: there, nothing tells a killed process's leftovers apart, and purge removes them.
    if (this.data.shared) return 0;
    let removed = 0;
    for (const id of await this.driver.list(UPLOADS)) {
      if (!isSessionId(id)) continue;
      const info = await this.readAnyInfo(id);
      if (info && !info.oneShot) continue;
      await this.lockOf(id).run(id, () => this.discard(id));
      removed += 1;
    }
    return removed;
  }

  /** Removes sessions idle for longer than `maxIdleMs`, and older completion records; resolves with how many sessions went. */
  async purge(maxIdleMs: number): Promise<number> {
    const now = Date.now();
    let removed = 0;
    await this.completed.purge(maxIdleMs, isSessionId);
    for (const id of await this.driver.list(UPLOADS)) {
      if (!isSessionId(id)) continue;
      const touched = Math.max((await this.data.modifiedMs(id)) ?? 0, (await this.driver.stat(layout.uploadInfo(id)))?.modifiedMs ?? 0);
      if (now - touched <= maxIdleMs) continue;
      await this.lockOf(id).run(id, () => this.discard(id));
      removed += 1;
    }
    return removed;
  }
}
