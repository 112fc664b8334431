import type { Digest } from '../../core/digest.js';
import type { LocalCache } from '../../storage/local-cache.js';
import { ArchiveError } from './archive-error.js';
import { ArchiveGraph } from './archive-graph.js';
import { archiveEntries, type ArchiveEntry } from './archive-reader.js';
import { BlobStaging } from './blob-staging.js';
import { digestOfEntry, INDEX_FILE, LAYOUT_FILE } from './oci-layout.js';
import type { RestorePlan } from './restore-plan.js';
import { verifiedChunks, verifyOnly } from './verified-chunks.js';

/** Largest oci-layout and index.json read (index.json has one small entry per tag and referrer). */
const MAX_LAYOUT_FILE_BYTES = 64 * 1024;
const MAX_INDEX_BYTES = 256 * 1024 * 1024;

export interface LoadHooks {
  /** Decides where the blobs go, once the archive's graph is known (see planRestore). */
  decide(graph: ArchiveGraph): Promise<RestorePlan>;
  /** Archive bytes read (before decompression). */
  onRead(bytes: number): void;
  /** An entry was read, with its size. */
  onEntry(bytes: number): void;
  /** A read of the whole archive begins: 1, and 2 for an archive that must be read again. */
  onPass(pass: number): void;
  signal: AbortSignal;
}

export function stoppedRestore(): Error {
  return new Error('the restore was stopped (porthole is shutting down) before its commit; nothing was restored');
}

async function readWhole(entry: ArchiveEntry, limit: number): Promise<Buffer> {
  if (entry.size > limit) throw new ArchiveError(`${entry.name} is ${entry.size} bytes, more than the ${limit} it may be`);
  const chunks: Buffer[] = [];
  for await (const chunk of entry.body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * Reads an archive into staging: every blob is hashed as it streams and must match its name;
 * the blobs the restore needs go into upload sessions (BlobStaging), manifests into memory.
 * Nothing becomes visible in the registry here: the commit (restore-commit.ts) does that once
 * the whole archive was read and checked.
 *
 * One pass when the archive says where blobs belong before they come (porthole's own: oci-layout,
 * index.json and the manifests first); an archive that puts index.json after its blobs (skopeo's)
 * is checked whole in the first pass and read again for the blobs to stage.
 */
export class ArchiveLoad {
  readonly graph = new ArchiveGraph();
  readonly staging: BlobStaging;
  /** Blobs read and verified, with their size. */
  private readonly verified = new Map<string, number>();
  private layoutSeen = false;
  private plan: RestorePlan | undefined;
  private reads = 0;

  constructor(
    private readonly path: string,
    store: LocalCache,
    private readonly hooks: LoadHooks,
  ) {
    this.staging = new BlobStaging(store);
  }

  /** How many times the archive was read: 1, or 2 when index.json came after the blobs. */
  get passes(): number {
    return this.reads;
  }

  /** Reads and stages the archive; resolves with the plan, every blob it needs staged. On failure nothing stays staged. */
  async load(): Promise<RestorePlan> {
    try {
      return await this.loadStaged();
    } catch (err) {
      await this.staging.cancelAll();
      throw err;
    }
  }

  private async loadStaged(): Promise<RestorePlan> {
    await this.pass((entry, digest) => this.firstPassBlob(entry, digest));
    if (!this.layoutSeen) throw new ArchiveError(`${this.path} is not an OCI image layout archive: it has no ${LAYOUT_FILE} file (truncated, or not such an archive)`);
    if (!this.graph.indexRead) throw new ArchiveError(`${this.path} has no ${INDEX_FILE} (truncated, or not an OCI image layout archive)`);
    const missingManifests = this.graph.missingManifests();
    if (missingManifests.length > 0) throw new ArchiveError(`${this.path} lacks manifest${missingManifests.length > 1 ? 's' : ''} ${missingManifests.slice(0, 5).join(', ')} that its index points at (truncated or corrupt archive?)`);
    const plan = this.plan ?? (this.plan = await this.hooks.decide(this.graph));

    const absent: string[] = [];
    const fromMemory: Array<{ digest: Digest; bytes: Buffer }> = [];
    let rereadNeeded = false;
    for (const repository of plan.repositories) {
      for (const blob of repository.blobs) {
        if (this.staging.has(blob.digest)) continue;
        const held = this.graph.heldBytesOf(blob.digest);
        if (held) fromMemory.push({ digest: blob.digest, bytes: held });
        else if (this.verified.has(blob.digest.value)) rereadNeeded = true;
        else if (blob.required) absent.push(`${blob.digest.value} (${repository.repo})`);
      }
    }
    if (absent.length > 0) throw new ArchiveError(`${this.path} lacks blob${absent.length > 1 ? 's' : ''} ${absent.slice(0, 5).join(', ')}${absent.length > 5 ? ` and ${absent.length - 5} more` : ''} that its manifests need (truncated or corrupt archive?)`);
    for (const { digest, bytes } of fromMemory) {
      if (this.staging.has(digest)) continue;
      await this.staging.stage(this.stagingRepo(digest), digest, bytes.length, [bytes]);
    }
    if (rereadNeeded) {
      await this.pass((entry, digest) => this.secondPassBlob(entry, digest));
      const unstaged = plan.repositories.flatMap((repository) => repository.blobs).filter((blob) => blob.required && !this.staging.has(blob.digest));
      if (unstaged.length > 0) throw new ArchiveError(`${this.path} changed while it was read: blob ${unstaged[0]?.digest.value ?? ''} was in its first read and not in its second`);
    }
    return plan;
  }

  private stagingRepo(digest: Digest): string {
    const repo = this.plan?.stagingRepo.get(digest.value);
    if (repo === undefined) throw new Error(`no repository to stage ${digest.value} in`);
    return repo;
  }

  /** One read of the archive, each blob entry handed to `onBlob`. */
  private async pass(onBlob: (entry: ArchiveEntry, digest: Digest) => Promise<void>): Promise<void> {
    this.reads += 1;
    this.hooks.onPass(this.reads);
    const first = this.reads === 1;
    for await (const entry of archiveEntries(this.path, this.hooks.onRead)) {
      if (this.hooks.signal.aborted) throw stoppedRestore();
      const digest = entry.type === 'file' ? digestOfEntry(entry.name) : undefined;
      if (digest) await onBlob(entry, digest);
      else if (first && entry.type === 'file' && entry.name === LAYOUT_FILE) this.readLayoutFile(await readWhole(entry, MAX_LAYOUT_FILE_BYTES));
      else if (first && entry.type === 'file' && entry.name === INDEX_FILE) await this.readIndex(await readWhole(entry, MAX_INDEX_BYTES));
      else entry.skip();
      this.hooks.onEntry(entry.size);
    }
  }

  private readLayoutFile(bytes: Buffer): void {
    let version: unknown;
    try {
      version = (JSON.parse(bytes.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new ArchiveError(`${LAYOUT_FILE} is not JSON`);
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) throw new ArchiveError(`${LAYOUT_FILE} gives imageLayoutVersion ${JSON.stringify(version)}; porthole reads version 1 layouts`);
    this.layoutSeen = true;
  }

  private async readIndex(bytes: Buffer): Promise<void> {
    this.graph.setIndex(bytes);
    await this.decideOnceComplete();
  }

  private async decideOnceComplete(): Promise<void> {
    if (this.plan === undefined && this.graph.isComplete()) this.plan = await this.hooks.decide(this.graph);
  }

  /** Hashing as it streams, with a check for a stop between chunks. */
  private chunks(entry: ArchiveEntry, digest: Digest, size: number): AsyncGenerator<Buffer> {
    return verifiedChunks(entry.body, digest, size, () => {
      if (this.hooks.signal.aborted) throw stoppedRestore();
    });
  }

  private async firstPassBlob(entry: ArchiveEntry, digest: Digest): Promise<void> {
    if (this.verified.has(digest.value)) return entry.skip();
    const plannedSize = this.plan?.blobSizes.get(digest.value);
    if (plannedSize !== undefined && !this.staging.has(digest)) {
      if (plannedSize !== entry.size) throw new ArchiveError(`blob ${digest.value} is ${entry.size} bytes in the archive but its manifest says ${plannedSize}`);
      await this.staging.stage(this.stagingRepo(digest), digest, entry.size, this.chunks(entry, digest, entry.size));
    } else if (this.graph.isManifest(digest) || this.graph.mayBeManifest(entry.size)) {
      this.graph.hold(digest, await collect(this.chunks(entry, digest, entry.size)));
      await this.decideOnceComplete();
    } else {
      await verifyOnly(entry.body, digest, entry.size, () => {
        if (this.hooks.signal.aborted) throw stoppedRestore();
      });
    }
    this.verified.set(digest.value, entry.size);
  }

  private async secondPassBlob(entry: ArchiveEntry, digest: Digest): Promise<void> {
    const plannedSize = this.plan?.blobSizes.get(digest.value);
    if (plannedSize === undefined || this.staging.has(digest)) return entry.skip();
    if (plannedSize !== entry.size) throw new ArchiveError(`blob ${digest.value} is ${entry.size} bytes in the archive but its manifest says ${plannedSize}`);
    await this.staging.stage(this.stagingRepo(digest), digest, entry.size, this.chunks(entry, digest, entry.size));
  }
}
