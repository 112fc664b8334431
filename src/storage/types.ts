import type { Readable } from 'node:stream';
import type { Digest, DigestAlgorithm } from '../core/digest.js';
import type { ManifestReference } from '../core/reference.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/** Where a pull-through cache's answer came from: for the per-namespace pull metrics. */
export interface PullProvenance {
  namespace: string;
  source: 'cache' | 'upstream';
}

export type RangeChooser = (size: number) => { start: number; end: number } | undefined;

/** An opened blob: `size` is the whole blob's, `stream` carries the chosen range. */
export interface BlobContent extends BlobInfo {
  stream: Readable;
  provenance?: PullProvenance;
}

export interface UploadStatus {
  id: string;
  repo: string;
  /** Bytes received so far. */
  size: number;
}

export interface UploadOptions {
  /**
   * A session that the client never learns of: a single `POST ?digest=` upload, or a download
   * of the pull-through cache. Nobody can resume it, so one left by a killed process is removed
   * at start-up instead of waiting for `uploadExpiry`.
   */
  oneShot?: boolean;
}

export interface ChunkOptions {
  /** The inclusive range the client says it is sending (Content-Range), if any. */
  range?: { start: number; end: number };
  /** The request's Content-Length, if it sent one. */
  contentLength?: number;
  /** Sees every chunk of the body as it is read (the HTTP layer counts the bytes it received). */
  onChunk?: (chunk: Buffer) => void;
  /** Hears how many bytes of the session's data file are written so far (the pull-through cache's readers follow it). */
  onWritten?: (sessionBytes: number) => void;
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
  provenance?: PullProvenance;
}

export interface PutManifestResult {
  digest: Digest;
  subject?: Digest;
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** What the storage gauges report; computed by walking the store (see storage-scan.ts). */
export interface StorageStats {
  /** Layers and configs: every blob that is not a manifest. */
  blobs: { count: number; bytes: number };
  manifests: { count: number; bytes: number };
  repositories: number;
  tags: number;
  /** Upload sessions in progress. */
  uploads: number;
  /** Bytes of the blobs and manifests each repository references (shared blobs count in each). */
  repositoryBytes: Map<string, number>;
}

export interface CacheSize {
  entries: number;
  bytes: number;
}

/** The in-memory caches, by the `cache` label they are reported under. */
export interface CacheStats {
  manifest: CacheSize;
  tagList: CacheSize;
  link: CacheSize;
}

/** Every cache empty: for what keeps none (a CLI job, a test's metrics). */
export const NO_CACHES: CacheStats = { manifest: { entries: 0, bytes: 0 }, tagList: { entries: 0, bytes: 0 }, link: { entries: 0, bytes: 0 } };

/**
 * The registry's storage, in OCI terms. The HTTP layer talks only to this interface; the
 * filesystem image store implements it today, and decorators (instrumentation, the
 * pull-through cache) wrap it without the handlers knowing.
 */
export interface RegistryStore {
  init(): Promise<void>;

  /** A blob linked into the repository, or undefined. */
  statBlob(repo: string, digest: Digest): Promise<BlobInfo | undefined>;
  /**
   * Opens a blob linked into the repository. `chooseRange` hears the blob's size and picks the
   * inclusive byte range to stream (undefined: all of it); it may throw (an unsatisfiable Range).
   */
  openBlob(repo: string, digest: Digest, chooseRange?: RangeChooser): Promise<BlobContent | undefined>;
  /**
   * Where a client may download a blob linked into the repository itself (a presigned S3 URL,
   * with storage.s3.redirect); undefined when the store serves it (or does not have it), and
   * openBlob is asked instead.
   */
  blobLocation(repo: string, digest: Digest): Promise<string | undefined>;
  /** Unlinks the blob from the repository; false when it was not linked. */
  deleteBlob(repo: string, digest: Digest): Promise<boolean>;
  /** Links a blob from another repository; false when `from` does not have it. */
  mountBlob(repo: string, digest: Digest, from: string): Promise<BlobInfo | undefined>;

  startUpload(repo: string, algorithm?: DigestAlgorithm, options?: UploadOptions): Promise<UploadStatus>;
  getUpload(repo: string, id: string): Promise<UploadStatus | undefined>;
  appendUpload(repo: string, id: string, body: Readable, options: ChunkOptions): Promise<UploadStatus>;
  /**
   * Appends an optional final chunk, verifies the digest, and makes the blob durable and linked.
   * Idempotent: a retry of a finish that completed (one cut off by a crash, say) answers again.
   */
  finishUpload(repo: string, id: string, digest: Digest, finalChunk?: { body: Readable; options: ChunkOptions }): Promise<BlobInfo>;
  cancelUpload(repo: string, id: string): Promise<boolean>;
  /** Removes sessions idle for longer than `maxIdleMs`; resolves with how many went. */
  purgeUploads(maxIdleMs: number): Promise<number>;

  getManifest(repo: string, reference: ManifestReference): Promise<StoredManifest | undefined>;
  putManifest(repo: string, reference: ManifestReference, bytes: Buffer, contentType: string | undefined, extraTags?: string[]): Promise<PutManifestResult>;
  /** Deletes the manifest and every tag that points at it; false when it was not there. */
  deleteManifest(repo: string, digest: Digest): Promise<boolean>;
  deleteTag(repo: string, tag: string): Promise<boolean>;

  repositoryExists(repo: string): Promise<boolean>;
  /** Sorted tags, or undefined when the repository does not exist. */
  listTags(repo: string): Promise<readonly string[] | undefined>;
  /** Sorted repository names. */
  listRepositories(): Promise<string[]>;
  listReferrers(repo: string, subject: Digest): Promise<ReferrerDescriptor[]>;

  /** Walks the whole store: for the storage gauges, on a reporting interval only. */
  stats(): Promise<StorageStats>;
  cacheStats(): CacheStats;
}
