import { durationMs } from '../config/durations.js';
import type { PruneConfig } from '../config/proxy-schema.js';
import type { Digest } from '../core/digest.js';
import { parseManifest, requiredBlobs } from '../core/manifest.js';
import type { LocalCache } from '../storage/local-cache.js';

export interface PruneOptions {
  olderThanMs: number;
  /** `accessed`: by last pull; `created`: by when the manifest was first cached. */
  by: 'accessed' | 'created';
  dryRun: boolean;
}

export function pruneOptionsOf(prune: PruneConfig): PruneOptions {
  return { olderThanMs: durationMs(prune.olderThan), by: prune.by, dryRun: prune.dryRun };
}

export interface PruneResult {
  dryRun: boolean;
  /** Manifests removed (or, in a dry run, that would be). */
  manifests: number;
  /** Blob links removed from cached repositories. */
  blobs: number;
  /** Bytes of blob and manifest data freed: content no repository references any more. */
  bytes: number;
  seconds: number;
}

interface RepositoryPlan {
  repo: string;
  removedManifests: Digest[];
  removedBlobs: Digest[];
  /** What the repository holds once the plan is carried out. */
  remaining: string[];
}

/**
 * Removes cached images nobody pulled (or that were cached) longer ago than `olderThan`, from
 * the repositories of the given cache namespaces. A manifest is kept when it is young or when a
 * kept index lists it; a blob link is kept while a kept manifest references it; data is freed
 * only when no repository at all (hosted ones included) references it any more, and that is
 * checked again, of the repositories on disk, once the data is moved aside.
 */
export async function pruneCache(local: LocalCache, isCached: (repo: string) => boolean, options: PruneOptions, now = Date.now()): Promise<PruneResult> {
  const started = performance.now();
  if (!options.dryRun) await local.contents.clearPruneLeftovers();
  const repositories = await local.listRepositories();
  const plans: RepositoryPlan[] = [];
  for (const repo of repositories.filter(isCached)) plans.push(await planRepository(local, repo, options, now));

  const candidates = new Map<string, Digest>();
  for (const plan of plans) for (const digest of [...plan.removedManifests, ...plan.removedBlobs]) candidates.set(digest.value, digest);
  const remaining = new Map(plans.map((plan) => [plan.repo, plan.remaining]));
  const stillReferenced = await referencedDigests(local, repositories, remaining);
  const freed = [...candidates.values()].filter((digest) => !stillReferenced.has(digest.value));

  const result: PruneResult = {
    dryRun: options.dryRun,
    manifests: plans.reduce((sum, plan) => sum + plan.removedManifests.length, 0),
    blobs: plans.reduce((sum, plan) => sum + plan.removedBlobs.length, 0),
    bytes: 0,
    seconds: 0,
  };
  if (options.dryRun) {
    for (const digest of freed) result.bytes += await local.contents.blobSize(digest);
  } else {
    for (const plan of plans) {
      for (const digest of plan.removedManifests) await local.deleteManifest(plan.repo, digest);
      for (const digest of plan.removedBlobs) await local.deleteBlob(plan.repo, digest);
    }
    // Asked again, of the repositories as they are now: a push or pull may have linked it since the plan.
    result.bytes = await local.contents.freeUnlessReferenced(freed, async () => referencedDigests(local, await local.repositoriesOnDisk()));
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function planRepository(local: LocalCache, repo: string, options: PruneOptions, now: number): Promise<RepositoryPlan> {
  const manifests = await local.contents.manifests(repo);
  const kept = new Map<string, Digest>();
  const old: Digest[] = [];
  for (const digest of manifests) {
    const times = await local.contents.manifestTimes(repo, digest);
    if (!times) continue;
    const at = options.by === 'accessed' ? times.accessedMs : times.createdMs;
    if (now - at > options.olderThanMs) old.push(digest);
    else kept.set(digest.value, digest);
  }
  // What kept manifests need: the platform manifests of a kept index (even when old themselves),
  // and the config and layers of every kept image.
  const neededBlobs = new Set<string>();
  const pending = [...kept.values()];
  while (pending.length > 0) {
    const digest = pending.pop() as Digest;
    const stored = await local.getManifest(repo, { kind: 'digest', digest });
    if (!stored) continue;
    const manifest = parseManifest(stored.bytes, stored.mediaType);
    for (const blob of requiredBlobs(manifest)) neededBlobs.add(blob.digest.value);
    for (const child of manifest.manifests) {
      if (kept.has(child.digest.value)) continue;
      kept.set(child.digest.value, child.digest);
      pending.push(child.digest);
    }
  }
  const removedManifests = old.filter((digest) => !kept.has(digest.value));
  const linked = await local.contents.linkedBlobs(repo);
  const removedBlobs = linked.filter((digest) => !neededBlobs.has(digest.value));
  const gone = new Set([...removedManifests, ...removedBlobs].map((digest) => digest.value));
  const remaining = [...manifests, ...linked].map((digest) => digest.value).filter((digest) => !gone.has(digest));
  return { repo, removedManifests, removedBlobs, remaining };
}

/** Every digest the repositories hold; `known` gives the holdings of some without reading them again. */
async function referencedDigests(local: LocalCache, repositories: string[], known = new Map<string, string[]>()): Promise<Set<string>> {
  const referenced = new Set<string>();
  for (const repo of repositories) {
    const holdings = known.get(repo) ?? (await local.contents.referenced(repo)).map((digest) => digest.value);
    for (const digest of holdings) referenced.add(digest);
  }
  return referenced;
}
