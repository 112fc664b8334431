import type { ManifestCache } from './manifest-cache.js';
import type { ManifestClass } from './manifest-kind.js';

/** The label value that sums every repository beyond --max-repositories (not a valid repository name). */
export const OTHER_REPOSITORIES = '_other';

export interface RepositoryFigures {
  name: string;
  tags: number;
  /** Sum of the sizes of the distinct digests its tags reach: manifests (index children included), configs and layers. */
  sizeBytes: number;
  /** Distinct manifests its tags reach, by class. */
  manifests: Record<ManifestClass, number>;
}

export function noManifests(): Record<ManifestClass, number> {
  return { image: 0, index: 0, artifact: 0 };
}

/**
 * The figures of one repository of `tags` tags from the digests they point at, walking the cached
 * manifests: each digest counts once however many tags or indexes reach it. Every manifest
 * digest reached is added to `live` (what the cache must keep).
 */
export function repositoryFigures(name: string, tags: number, tagDigests: readonly string[], cache: ManifestCache, live: Set<string>): RepositoryFigures {
  const manifests = noManifests();
  const sizes = new Map<string, number>();
  const seen = new Set<string>();
  const visit = (digest: string): void => {
    if (seen.has(digest)) return;
    seen.add(digest);
    live.add(digest);
    const entry = cache.get(digest);
    if (!entry) return;
    manifests[entry.kind] += 1;
    sizes.set(digest, entry.size);
    entry.blobs.forEach((blob, i) => {
      if (!sizes.has(blob)) sizes.set(blob, entry.blobSizes[i] ?? 0);
    });
    for (const child of entry.children) visit(child);
  };
  for (const digest of tagDigests) visit(digest);
  let sizeBytes = 0;
  for (const size of sizes.values()) sizeBytes += size;
  return { name, tags, sizeBytes, manifests };
}

/**
 * The label bound: the `max` largest repositories (by size, then name) keep their own label, the
 * others are summed into one `_other` entry (absent when none is left over).
 */
export function boundRepositories(figures: readonly RepositoryFigures[], max: number): { labelled: RepositoryFigures[]; other: { tags: number; sizeBytes: number; repositories: number } | undefined } {
  if (figures.length <= max) return { labelled: [...figures], other: undefined };
  const sorted = [...figures].sort((a, b) => b.sizeBytes - a.sizeBytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rest = sorted.slice(max);
  return {
    labelled: sorted.slice(0, max),
    other: { tags: rest.reduce((sum, r) => sum + r.tags, 0), sizeBytes: rest.reduce((sum, r) => sum + r.sizeBytes, 0), repositories: rest.length },
  };
}
