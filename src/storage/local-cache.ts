import type { Readable } from 'node:stream';
import type { Digest } from '../core/digest.js';
import type { ManifestReference } from '../core/reference.js';
import type { RepositoryContents } from './image-store/repository-contents.js';
import type { BlobInfo, ChunkOptions, PutManifestResult, RegistryStore } from './types.js';

/** How far an upload session's data is written, as its writer reports it (see LocalCache.followUpload). */
export interface UploadProgress {
  available(): number;
  committed(): boolean;
  failure(): Error | undefined;
  changed(): Promise<void>;
}

/**
 * What the pull-through cache needs of the store it keeps its copies in: the registry store, and
 * the few things only a cache does (storing a manifest before its blobs, following a download as
 * it is written, the bookkeeping pruning reads). The pull-through cache depends on this, not on a
 * concrete store, so that decorators (tracing) can sit between the two and other stores (S3) can
 * serve as its cache.
 */
export interface LocalCache extends RegistryStore {
  /** As RegistryStore's; `onVerified` hears that the content matched the digest, before it is made durable. */
  finishUpload(repo: string, id: string, digest: Digest, finalChunk?: { body: Readable; options: ChunkOptions }, onVerified?: () => void): Promise<BlobInfo>;
  /** Stores a manifest fetched from an upstream: validated like a push, but its blobs need not be here yet. */
  cacheManifest(repo: string, reference: ManifestReference, bytes: Buffer, contentType: string | undefined): Promise<PutManifestResult>;
  /** When a tag was last written (by a push, or by the cache checking it upstream). */
  tagWrittenAt(repo: string, tag: string): Promise<number | undefined>;
  /** Bytes `range` of a blob whose upload session is still being written, following `progress`. */
  followUpload(id: string, digest: Digest, progress: UploadProgress, range: { start: number; end: number }): Readable;
  /** Every repository in storage now, other processes' included (a full walk, for maintenance). */
  repositoriesOnDisk(): Promise<string[]>;
  /** Prepares the store for a process working beside serve (a CLI job): like init, but clears nothing. */
  attach(): Promise<void>;
  /** What each repository holds, for pruning. */
  readonly contents: RepositoryContents;
}
