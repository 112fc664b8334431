import type { Digest } from '../../core/digest.js';
import type { Descriptor } from '../../core/manifest.js';
import { requiredBlobs } from '../../core/manifest.js';
import { isValidName } from '../../core/names.js';
import type { LocalCache } from '../../storage/local-cache.js';
import { ArchiveError } from './archive-error.js';
import type { ArchiveGraph, ArchiveManifest } from './archive-graph.js';
import { REF_NAME_ANNOTATION, REPOSITORY_ANNOTATION } from './oci-layout.js';
import { parseRefName } from './ref-names.js';
import type { RepoMatcher } from './repo-globs.js';

export interface RestoreChoices {
  matches: RepoMatcher;
  overwrite: boolean;
  /** The repository of entries whose ref name is a bare tag, or that have none and are no referrer. */
  into?: string;
}

/** An index.json entry placed in a repository. */
interface Root {
  repo: string;
  /** Absent for an untagged entry (a referrer). */
  tag?: string;
  digest: Digest;
}

/** What happens to a tag of the archive. */
export type TagDecision = 'restore' | 'overwrite' | 'kept' | 'unchanged';

export interface PlannedTag {
  repo: string;
  tag: string;
  manifest: ArchiveManifest;
  decision: TagDecision;
  /** What the tag points at in the registry now, when it exists. */
  current?: string;
}

export interface RepositoryRestore {
  repo: string;
  /** To put, children before parents (a manifest is put only after everything it needs). */
  manifests: ArchiveManifest[];
  /** Blobs the manifests need that the repository does not have. */
  blobs: Array<{ digest: Digest; size: number; required: boolean }>;
  /** Manifests the repository has already (not put again). */
  present: number;
  /** Blobs the repository has already. */
  presentBlobs: number;
}

export interface RestorePlan {
  repositories: RepositoryRestore[];
  tags: PlannedTag[];
  /** Repositories of the archive that no --repo glob matches. */
  excluded: string[];
  /** Where each blob is staged: the first repository that needs it (others mount it from there). */
  stagingRepo: Map<string, string>;
  /** Size each needed blob must have, by digest. */
  blobSizes: Map<string, number>;
}

function describeEntry(entry: Descriptor): string {
  const name = entry.annotations?.[REF_NAME_ANNOTATION];
  return name === undefined ? `index.json entry ${entry.digest.value}` : `index.json entry "${name}"`;
}

/**
 * Where each index.json entry goes: porthole's repository annotation, else the repository of a
 * `<repository>:<tag>` ref name, else --into for a bare tag. An entry without a ref name is a
 * referrer of whatever repositories hold its subject, else goes into --into.
 */
function placeEntries(graph: ArchiveGraph, into: string | undefined): Root[] {
  const roots: Root[] = [];
  const unplaced: Descriptor[] = [];
  const problems: string[] = [];
  for (const entry of graph.index) {
    const ref = entry.annotations?.[REF_NAME_ANNOTATION];
    const annotated = entry.annotations?.[REPOSITORY_ANNOTATION];
    if (annotated !== undefined && !isValidName(annotated)) {
      problems.push(`${describeEntry(entry)} names repository "${annotated}", which is not a repository name`);
      continue;
    }
    if (ref === undefined) {
      if (annotated !== undefined) roots.push({ repo: annotated, digest: entry.digest });
      else unplaced.push(entry);
      continue;
    }
    const target = parseRefName(ref);
    if (target === undefined) {
      problems.push(`${describeEntry(entry)}: the ref name is neither <repository>:<tag> nor a tag`);
      continue;
    }
    const repo = annotated ?? (target.kind === 'repository-tag' ? target.repo : into);
    if (repo === undefined) {
      problems.push(`${describeEntry(entry)} names only a tag: give --into REPO to say which repository it goes to`);
      continue;
    }
    roots.push({ repo, tag: target.tag, digest: entry.digest });
  }
  for (const entry of unplaced) {
    const subject = graph.manifest(entry.digest)?.parsed.subject?.digest.value;
    const holders = subject === undefined ? [] : [...new Set(roots.filter((root) => graph.reaches(root.digest, subject)).map((root) => root.repo))];
    if (holders.length > 0) for (const repo of holders) roots.push({ repo, digest: entry.digest });
    else if (into !== undefined) roots.push({ repo: into, digest: entry.digest });
    else problems.push(`${describeEntry(entry)} has no ref name and is no referrer of an image in the archive: give --into REPO to restore it (untagged)`);
  }
  if (problems.length > 0) throw new ArchiveError(`cannot tell where the archive's images go: ${problems.join('; ')}`);
  return roots;
}

/**
 * Decides a restore from a complete graph and the registry as it is now: which tags are set,
 * moved or kept, and per repository which manifests and blobs it lacks. The content of a kept tag
 * is not loaded (unless something restored needs it); manifests the repository has are taken as
 * whole and not descended into.
 */
export async function planRestore(graph: ArchiveGraph, store: LocalCache, choices: RestoreChoices): Promise<RestorePlan> {
  const placed = placeEntries(graph, choices.into);
  const excluded = [...new Set(placed.filter((root) => !choices.matches(root.repo)).map((root) => root.repo))].sort();
  const roots = placed.filter((root) => choices.matches(root.repo));
  const plan: RestorePlan = { repositories: [], tags: [], excluded, stagingRepo: new Map(), blobSizes: new Map() };

  const contentRoots = new Map<string, Digest[]>();
  for (const root of roots) {
    const manifest = graph.manifest(root.digest);
    if (!manifest) throw new ArchiveError(`manifest ${root.digest.value} of index.json is not in the archive`);
    const list = contentRoots.get(root.repo) ?? [];
    contentRoots.set(root.repo, list);
    if (root.tag === undefined) {
      list.push(root.digest);
      continue;
    }
    const current = (await store.getManifest(root.repo, { kind: 'tag', tag: root.tag }))?.digest.value;
    const decision: TagDecision = current === undefined ? 'restore' : current === root.digest.value ? 'unchanged' : choices.overwrite ? 'overwrite' : 'kept';
    plan.tags.push({ repo: root.repo, tag: root.tag, manifest, decision, ...(current === undefined ? {} : { current }) });
    if (decision === 'restore' || decision === 'overwrite') list.push(root.digest);
  }

  for (const repo of [...contentRoots.keys()].sort()) {
    const restore = await repositoryRestore(graph, store, repo, contentRoots.get(repo) ?? []);
    plan.repositories.push(restore);
    for (const blob of restore.blobs) {
      if (!plan.stagingRepo.has(blob.digest.value)) plan.stagingRepo.set(blob.digest.value, repo);
      plan.blobSizes.set(blob.digest.value, blob.size);
    }
  }
  return plan;
}

async function repositoryRestore(graph: ArchiveGraph, store: LocalCache, repo: string, roots: Digest[]): Promise<RepositoryRestore> {
  const restore: RepositoryRestore = { repo, manifests: [], blobs: [], present: 0, presentBlobs: 0 };
  const visited = new Set<string>();
  const blobs = new Set<string>();
  const visit = async (digest: Digest): Promise<void> => {
    if (visited.has(digest.value)) return;
    visited.add(digest.value);
    const manifest = graph.manifest(digest);
    if (!manifest) throw new ArchiveError(`manifest ${digest.value} is not in the archive`);
    if (await store.getManifest(repo, { kind: 'digest', digest })) {
      restore.present += 1;
      return;
    }
    for (const child of manifest.parsed.manifests) await visit(child.digest);
    const required = new Set(requiredBlobs(manifest.parsed));
    for (const blob of manifest.parsed.blobs) {
      if (blobs.has(blob.digest.value)) continue;
      blobs.add(blob.digest.value);
      if (await store.statBlob(repo, blob.digest)) restore.presentBlobs += 1;
      else restore.blobs.push({ digest: blob.digest, size: blob.size, required: required.has(blob) });
    }
    restore.manifests.push(manifest);
  };
  for (const root of roots) await visit(root);
  return restore;
}
