import { digestOf, tryParseDigest, type Digest } from '../../core/digest.js';
import { parseManifest, requiredBlobs, type Descriptor, type ParsedManifest } from '../../core/manifest.js';
import type { LocalCache } from '../../storage/local-cache.js';
import type { StoredManifest } from '../../storage/types.js';
import { REF_NAME_ANNOTATION, REPOSITORY_ANNOTATION } from './oci-layout.js';
import { refNameOf } from './ref-names.js';
import type { RepoMatcher } from './repo-globs.js';

/** An entry of the archive's index.json. */
export interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations: Record<string, string>;
}

export interface PlannedBlob {
  digest: Digest;
  size: number;
  /** The repository it is read from: the first that reached it, which its copying time is charged to. */
  repo: string;
}

export interface PlannedManifest {
  digest: Digest;
  bytes: Buffer;
  repo: string;
}

/** An image left out because something it needs is not in storage (a pull-through cache's lazily fetched blobs, say). */
export interface LeftOut {
  repo: string;
  /** The tag, or the digest of a referrer. */
  reference: string;
  reason: string;
}

/**
 * What a backup holds, decided before a byte is written: every tag's manifest as it was when the
 * tags were read (the snapshot), everything those manifests reach (an index's children, config and
 * layers, referrers of each, recursively), each manifest and blob once.
 */
export interface BackupPlan {
  entries: IndexEntry[];
  /** Parents before children. */
  manifests: Map<string, PlannedManifest>;
  blobs: Map<string, PlannedBlob>;
  repositories: string[];
  tags: number;
  leftOut: LeftOut[];
  /** Seconds spent planning each repository. */
  seconds: Map<string, number>;
}

class Incomplete extends Error {}

/** One root's closure (a tag's image, or a referrer) in one repository, before it is merged. */
interface Closure {
  manifests: Array<{ stored: StoredManifest; parsed: ParsedManifest }>;
  blobs: Map<string, { digest: Digest; size: number }>;
}

/** Reads what a backup covers out of the store; see BackupPlan. */
export class BackupPlanner {
  private readonly plan: BackupPlan = { entries: [], manifests: new Map(), blobs: new Map(), repositories: [], tags: 0, leftOut: [], seconds: new Map() };
  /** Per repository, the manifests whose closure is in the plan already. */
  private readonly planned = new Map<string, Set<string>>();

  constructor(
    private readonly store: LocalCache,
    private readonly signal: AbortSignal,
  ) {}

  async planFor(matches: RepoMatcher): Promise<BackupPlan> {
    const repositories = (await this.store.repositoriesOnDisk()).filter(matches).sort();
    // The snapshot first: every tag's manifest now. What is pushed from here on is not in it,
    // and what it holds is copied whole or the backup fails.
    const snapshot: Array<{ repo: string; tag: string; manifest: StoredManifest }> = [];
    for (const repo of repositories) {
      for (const tag of (await this.store.listTags(repo)) ?? []) {
        const manifest = await this.store.getManifest(repo, { kind: 'tag', tag });
        if (manifest) snapshot.push({ repo, tag, manifest });
      }
    }
    for (const { repo, tag, manifest } of snapshot) {
      if (this.signal.aborted) throw new Error('the backup was stopped (porthole is shutting down) before it wrote anything');
      const started = performance.now();
      const entry: IndexEntry = {
        mediaType: manifest.mediaType,
        digest: manifest.digest.value,
        size: manifest.bytes.length,
        annotations: { [REF_NAME_ANNOTATION]: refNameOf(repo, tag), [REPOSITORY_ANNOTATION]: repo },
      };
      if (await this.addRoot(repo, tag, manifest, entry)) this.plan.tags += 1;
      this.charge(repo, started);
    }
    this.plan.repositories = [...new Set(snapshot.map(({ repo }) => repo))];
    return this.plan;
  }

  private charge(repo: string, startedMs: number): void {
    this.plan.seconds.set(repo, (this.plan.seconds.get(repo) ?? 0) + (performance.now() - startedMs) / 1000);
  }

  /** Adds a root (and its index.json entry) and its closure, then the referrers of every manifest in it; false when it was left out. */
  private async addRoot(repo: string, reference: string, manifest: StoredManifest, entry: IndexEntry): Promise<boolean> {
    const planned = this.planned.get(repo) ?? new Set<string>();
    this.planned.set(repo, planned);
    let closure: Closure;
    try {
      closure = await this.closureOf(repo, manifest, planned);
    } catch (err) {
      if (!(err instanceof Incomplete)) throw err;
      this.plan.leftOut.push({ repo, reference, reason: err.message });
      return false;
    }
    for (const { stored } of closure.manifests) {
      planned.add(stored.digest.value);
      if (!this.plan.manifests.has(stored.digest.value)) this.plan.manifests.set(stored.digest.value, { digest: stored.digest, bytes: stored.bytes, repo });
    }
    for (const blob of closure.blobs.values()) {
      if (!this.plan.blobs.has(blob.digest.value)) this.plan.blobs.set(blob.digest.value, { ...blob, repo });
    }
    this.plan.entries.push(entry);
    for (const { stored } of closure.manifests) await this.addReferrersOf(repo, stored.digest);
    return true;
  }

  private async addReferrersOf(repo: string, subject: Digest): Promise<void> {
    for (const referrer of await this.store.listReferrers(repo, subject)) {
      const planned = this.planned.get(repo);
      if (planned?.has(referrer.digest)) continue;
      const digest = tryParseDigest(referrer.digest);
      // Deleted since the referrers were listed: not in the snapshot's world any more.
      const manifest = digest && (await this.store.getManifest(repo, { kind: 'digest', digest }));
      if (!manifest) continue;
      const entry: IndexEntry = { mediaType: manifest.mediaType, digest: manifest.digest.value, size: manifest.bytes.length, annotations: { [REPOSITORY_ANNOTATION]: repo } };
      if (referrer.artifactType !== undefined) entry.artifactType = referrer.artifactType;
      await this.addRoot(repo, referrer.digest, manifest, entry);
    }
  }

  /** A manifest and everything it reaches in `repo`, parents first; throws Incomplete when a part is missing. */
  private async closureOf(repo: string, root: StoredManifest, planned: Set<string>): Promise<Closure> {
    const closure: Closure = { manifests: [], blobs: new Map() };
    const seen = new Set<string>();
    const visit = async (stored: StoredManifest): Promise<void> => {
      if (seen.has(stored.digest.value) || planned.has(stored.digest.value)) return;
      seen.add(stored.digest.value);
      if (digestOf(stored.bytes, stored.digest.algorithm).hex !== stored.digest.hex) throw new Incomplete(`manifest ${stored.digest.value} does not match its digest in storage (porthole scrub finds such content)`);
      const parsed = parseManifest(stored.bytes, stored.mediaType);
      closure.manifests.push({ stored, parsed });
      for (const child of parsed.manifests) {
        const childManifest = await this.store.getManifest(repo, { kind: 'digest', digest: child.digest });
        if (!childManifest) throw new Incomplete(`manifest ${child.digest.value} (a child of ${stored.digest.value}) is not in storage`);
        await visit(childManifest);
      }
      const required = new Set(requiredBlobs(parsed));
      for (const blob of parsed.blobs) await this.addBlob(repo, blob, required.has(blob), closure);
    };
    await visit(root);
    return closure;
  }

  private async addBlob(repo: string, blob: Descriptor, required: boolean, closure: Closure): Promise<void> {
    if (closure.blobs.has(blob.digest.value)) return;
    const info = await this.store.statBlob(repo, blob.digest);
    if (!info) {
      // A foreign layer (with urls) need not be here; anything else must.
      if (required) throw new Incomplete(`blob ${blob.digest.value} is not in storage`);
      return;
    }
    if (info.size !== blob.size) throw new Incomplete(`blob ${blob.digest.value} is ${info.size} bytes in storage but its manifest says ${blob.size}`);
    closure.blobs.set(blob.digest.value, { digest: blob.digest, size: info.size });
  }
}
