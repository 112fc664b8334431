import { Readable } from 'node:stream';
import type { Digest } from '../../core/digest.js';
import type { LocalCache } from '../../storage/local-cache.js';

/** A blob written into an upload session, verified, not yet committed: invisible to clients. */
export interface StagedBlob {
  digest: Digest;
  size: number;
  repo: string;
  uploadId: string;
}

/**
 * Blobs of a restore held in upload sessions until the whole archive has been read and checked:
 * a corrupt or truncated archive then cancels them all and the registry is as it was. They are
 * one-shot sessions, so those of a restore killed before its commit are removed when porthole
 * next starts (or once older than storage.uploadExpiry).
 */
export class BlobStaging {
  private readonly staged = new Map<string, StagedBlob>();

  constructor(private readonly store: LocalCache) {}

  has(digest: Digest): boolean {
    return this.staged.has(digest.value);
  }

  get(digest: Digest): StagedBlob | undefined {
    return this.staged.get(digest.value);
  }

  get count(): number {
    return this.staged.size;
  }

  /**
   * Streams `chunks` (verified as they pass: see verifiedChunks) into a new session in `repo`.
   * A failure (the archive's, the disk's) cancels the session before it is rethrown.
   */
  async stage(repo: string, digest: Digest, size: number, chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const { id } = await this.store.startUpload(repo, digest.algorithm, { oneShot: true });
    try {
      await this.store.appendUpload(repo, id, Readable.from(chunks, { objectMode: false }), { contentLength: size });
    } catch (err) {
      await this.store.cancelUpload(repo, id).catch(() => undefined);
      throw err;
    }
    this.staged.set(digest.value, { digest, size, repo, uploadId: id });
  }

  /** Verifies and stores a staged blob: linked in its repository from now on. */
  async commit(blob: StagedBlob): Promise<void> {
    await this.store.finishUpload(blob.repo, blob.uploadId, blob.digest);
    this.staged.delete(blob.digest.value);
  }

  /** Cancels every session not committed (the restore failed, or staged more than it used). */
  async cancelAll(): Promise<void> {
    for (const blob of this.staged.values()) await this.store.cancelUpload(blob.repo, blob.uploadId).catch(() => undefined);
    this.staged.clear();
  }
}
