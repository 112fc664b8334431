import type { Readable } from 'node:stream';
import type { Digest, DigestAlgorithm } from '../../core/digest.js';
import type { ManifestReference } from '../../core/reference.js';
import type { Driver } from '../driver.js';
import type { LocalCache, UploadProgress } from '../local-cache.js';
import { KeyedLock, type SharedLocks } from '../keyed-lock.js';
import type { Broadcasts } from '../broadcasts.js';
import type { WorkSpans } from '../work-spans.js';
import { layout } from '../layout.js';
import type {
  BlobContent,
  CacheSize,
  CacheStats,
  StorageStats,
  BlobInfo,
  ChunkOptions,
  PutManifestResult,
  RangeChooser,
  ReferrerDescriptor,
  StoredManifest,
  UploadOptions,
  UploadStatus,
} from '../types.js';
import { BlobLinks, Use } from './blobs.js';
import { ManifestCache } from './manifest-cache.js';
import { readWhenCommitted } from './read-when-committed.js';
import { StorageScanner } from './storage-scan.js';
import { ManifestStore } from './manifests.js';
import { RepositoryContents } from './repository-contents.js';
import { RepositoryIndex } from './repository-index.js';
import { TagLists } from './tag-lists.js';
import { UploadSessions } from './uploads.js';

/** How long a presigned blob URL is valid (distribution's S3 driver: 20 minutes). */
const REDIRECT_SECONDS = 20 * 60;

/** Manifests are small and pulled far more often than pushed; 64 MiB holds tens of thousands. */
export const DEFAULT_MANIFEST_CACHE_BYTES = 64 * 1024 * 1024;

export interface ImageStoreOptions {
  manifestCacheBytes?: number;
  /** The locks that serialise each upload session's requests (across replicas, with Redis); a KeyedLock of this process when absent. */
  sessionLocks?: SharedLocks;
  /** Answer blob downloads with a presigned URL where the driver has them (storage.s3.redirect). */
  redirectBlobs?: boolean;
  /** How replicas sharing the storage hear of each other's new repositories; nobody else when absent. */
  broadcasts?: Broadcasts;
  /** Named steps shown as spans when tracing is on (manifest validation). */
  spans?: WorkSpans;
  /** The tags and revisions the driver keeps in memory (link-cache.ts), for the cache gauges. */
  linkCache?: { readonly size: CacheSize };
}

/** OCI semantics over any Driver: the composition of blobs, uploads, manifests and the repository index. */
export class ImageStore implements LocalCache {
  private readonly blobs: BlobLinks;
  private readonly uploads: UploadSessions;
  private readonly manifests: ManifestStore;
  private readonly repositories: RepositoryIndex;
  private readonly tagLists: TagLists;
  /** What each repository holds, for maintenance (pruning, garbage collection). */
  readonly contents: RepositoryContents;

  private readonly manifestCache: ManifestCache;
  private readonly scanner: StorageScanner;
  private readonly redirectBlobs: boolean;
  private readonly linkCache: { readonly size: CacheSize } | undefined;

  constructor(
    private readonly driver: Driver,
    options: ImageStoreOptions = {},
  ) {
    this.blobs = new BlobLinks(driver);
    this.redirectBlobs = options.redirectBlobs ?? false;
    this.linkCache = options.linkCache;
    this.scanner = new StorageScanner(driver);
    this.repositories = new RepositoryIndex(driver, options.broadcasts);
    this.tagLists = new TagLists(driver);
    this.contents = new RepositoryContents(driver);
    this.manifestCache = new ManifestCache(options.manifestCacheBytes ?? DEFAULT_MANIFEST_CACHE_BYTES);
    this.manifests = new ManifestStore(driver, this.blobs, this.manifestCache, options.spans);
    this.uploads = new UploadSessions(
      driver,
      async (repo, digest) => {
        await this.blobs.link(repo, digest);
        this.repositories.noteWritten(repo);
        // Checked after linking: a collection (or prune) that parked the data meanwhile either sees
        // this link and puts the data back, or it is put back here; when it is gone for good, the
        // upload commits it again (nothing is promised yet).
        if ((await this.blobs.holdData(digest)) !== undefined) return true;
        await this.blobs.unlink(repo, digest);
        return false;
      },
      options.sessionLocks ?? new KeyedLock(),
    );
  }

  /** Prepares the driver and removes the upload sessions a killed process left that nobody can resume. */
  async init(): Promise<void> {
    await this.driver.init();
    await this.uploads.removeOrphans();
  }

  /** For a CLI job beside a running serve: what init prepares, without clearing what serve is using. */
  attach(): Promise<void> {
    return this.driver.attach();
  }

  /** A HEAD's answer (and a job's look, whose driver keeps nothing). */
  statBlob(repo: string, digest: Digest): Promise<BlobInfo | undefined> {
    return this.blobs.stat(repo, digest, Use.Answer);
  }

  openBlob(repo: string, digest: Digest, chooseRange?: RangeChooser): Promise<BlobContent | undefined> {
    return this.blobs.open(repo, digest, chooseRange);
  }

  /** A presigned URL of the blob's data, valid REDIRECT_SECONDS, when redirects are on and the driver has them. */
  async blobLocation(repo: string, digest: Digest): Promise<string | undefined> {
    const presign = this.redirectBlobs ? this.driver.presignedGet : undefined;
    if (presign === undefined || !(await this.blobs.present(repo, digest))) return undefined;
    return presign.call(this.driver, layout.blobData(digest), REDIRECT_SECONDS);
  }

  deleteBlob(repo: string, digest: Digest): Promise<boolean> {
    return this.blobs.unlink(repo, digest);
  }

  async mountBlob(repo: string, digest: Digest, from: string): Promise<BlobInfo | undefined> {
    const source = await this.blobs.stat(from, digest);
    if (!source) return undefined;
    await this.blobs.link(repo, digest);
    this.repositories.noteWritten(repo);
    // Checked after linking: a collection (or prune) that parked the data meanwhile either sees
    // this link (and puts the data back) or it is put back here; when it is gone for good, the
    // mount must not be reported (the client uploads the blob instead).
    if ((await this.blobs.holdData(digest)) === undefined) {
      await this.blobs.unlink(repo, digest);
      return undefined;
    }
    return source;
  }

  startUpload(repo: string, algorithm?: DigestAlgorithm, options?: UploadOptions): Promise<UploadStatus> {
    return this.uploads.start(repo, algorithm, options);
  }

  getUpload(repo: string, id: string): Promise<UploadStatus | undefined> {
    return this.uploads.status(repo, id);
  }

  appendUpload(repo: string, id: string, body: Readable, options: ChunkOptions): Promise<UploadStatus> {
    return this.uploads.append(repo, id, body, options);
  }

  /** `onVerified` (the pull-through cache's) hears that the content matched the digest, before the commit's fsync. */
  async finishUpload(repo: string, id: string, digest: Digest, finalChunk?: { body: Readable; options: ChunkOptions }, onVerified?: () => void): Promise<BlobInfo> {
    const { size } = await this.uploads.finish(repo, id, digest, finalChunk, onVerified);
    return { digest, size };
  }

  cancelUpload(repo: string, id: string): Promise<boolean> {
    return this.uploads.cancel(repo, id);
  }

  purgeUploads(maxIdleMs: number): Promise<number> {
    return this.uploads.purge(maxIdleMs);
  }

  getManifest(repo: string, reference: ManifestReference): Promise<StoredManifest | undefined> {
    return this.manifests.get(repo, reference);
  }

  async putManifest(repo: string, reference: ManifestReference, bytes: Buffer, contentType: string | undefined, extraTags: string[] = []): Promise<PutManifestResult> {
    const result = await this.manifests.put(repo, reference, bytes, contentType, extraTags);
    this.repositories.noteWritten(repo);
    return result;
  }

  /**
   * Stores a manifest fetched from an upstream by the pull-through cache: validated like a push,
   * but its blobs need not be here yet. Storing it by tag again marks the tag as checked now.
   */
  async cacheManifest(repo: string, reference: ManifestReference, bytes: Buffer, contentType: string | undefined): Promise<PutManifestResult> {
    const result = await this.manifests.put(repo, reference, bytes, contentType, [], { requireReferences: false });
    this.repositories.noteWritten(repo);
    return result;
  }

  /** When a tag was last written (by a push, or by the pull-through cache checking it upstream). */
  async tagWrittenAt(repo: string, tag: string): Promise<number | undefined> {
    return (await this.driver.stat(layout.tag(repo, tag)))?.modifiedMs;
  }

  /**
   * Bytes `range` of a blob whose upload session is still being written (the pull-through cache's
   * readers), following it as `progress` reports, and on into the blob once it is committed;
   * where the driver cannot follow a file, from the blob once it is committed.
   */
  followUpload(id: string, digest: Digest, progress: UploadProgress, range: { start: number; end: number }): Readable {
    const growing = this.uploads.growingPath(id);
    if (!this.driver.files || growing === undefined) return readWhenCommitted(progress, () => this.driver.readStream(layout.blobData(digest), range));
    return this.driver.files.followStream(
      {
        path: () => (progress.committed() ? layout.blobData(digest) : growing),
        available: () => progress.available(),
        failure: () => progress.failure(),
        complete: () => progress.committed() || progress.failure() !== undefined,
        changed: () => progress.changed(),
      },
      range,
    );
  }

  deleteManifest(repo: string, digest: Digest): Promise<boolean> {
    return this.manifests.delete(repo, digest);
  }

  deleteTag(repo: string, tag: string): Promise<boolean> {
    return this.manifests.deleteTag(repo, tag);
  }

  repositoryExists(repo: string): Promise<boolean> {
    return this.repositories.exists(repo);
  }

  async listTags(repo: string): Promise<readonly string[] | undefined> {
    // A tags directory lives inside _manifests, a repository marker: when it exists, so does the repository.
    const tags = await this.tagLists.list(repo);
    if (tags) return tags;
    return (await this.repositories.exists(repo)) ? [] : undefined;
  }

  listRepositories(): Promise<string[]> {
    return this.repositories.list();
  }

  /** Every repository on disk now, other processes' included (a full walk, for maintenance). */
  repositoriesOnDisk(): Promise<string[]> {
    return this.repositories.scan();
  }

  listReferrers(repo: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    return this.manifests.listReferrers(repo, subject);
  }

  async stats(): Promise<StorageStats> {
    return this.scanner.scan(await this.repositories.list());
  }

  cacheStats(): CacheStats {
    return { manifest: this.manifestCache.size, tagList: this.tagLists.size, link: this.linkCache?.size ?? { entries: 0, bytes: 0 } };
  }
}
