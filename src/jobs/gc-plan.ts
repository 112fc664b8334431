import type { Digest } from '../core/digest.js';
import { parseManifest, requiredBlobs, type ParsedManifest } from '../core/manifest.js';
import { mapLimited } from '../storage/concurrency.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { LocalCache } from '../storage/local-cache.js';
import type { JobProgress } from './progress.js';

/** Repositories read at once while marking: enough to keep the disk busy, few enough to leave room for requests. */
const MARK_CONCURRENCY = 8;

export interface GcRules {
  graceMs: number;
  /** Also remove manifests that no tag, kept index or kept subject keeps. */
  untagged: boolean;
  /** A dry run looks and changes nothing, not even what a killed run left parked. */
  dryRun: boolean;
}

/** What a run is working with. */
export interface GcContext {
  store: LocalCache;
  rules: GcRules;
  log: PortholeLogger;
  signal: AbortSignal;
  progress: JobProgress;
}

/** Whether a sign of life (ms since the epoch) is within the grace period, now. */
export function isRecent(lastUsedMs: number, rules: GcRules): boolean {
  return Date.now() - lastUsedMs < rules.graceMs;
}

/** An untagged manifest the plan removes, with what deciding again at the last moment needs. */
export interface ManifestCandidate {
  digest: Digest;
  manifest: ParsedManifest;
}

/** What goes from one repository. */
export interface RepositoryPlan {
  repo: string;
  manifests: ManifestCandidate[];
  links: Digest[];
}

export interface GcPlan {
  repositories: RepositoryPlan[];
  /** Blob data (manifests' bytes included) that nothing the plan keeps references, and old enough to go. */
  blobs: Array<{ digest: Digest; size: number }>;
  /** What was looked at. */
  examined: { repositories: number; manifests: number; blobs: number };
  /** False when the run was stopped before the plan was whole: then nothing may go. */
  complete: boolean;
}

/** One repository as marking sees it. */
interface RepositoryMarks {
  plan: RepositoryPlan;
  manifestsExamined: number;
  /** Digests whose data the repository keeps: kept manifests, kept links, blobs kept manifests need. */
  referenced: string[];
}

/**
 * Marking: which manifests and layer links of each repository go, and then which stored data
 * nothing kept references. Reads only (a dry run's whole work), except that a run for real first
 * puts back what a killed run left parked.
 */
export async function planCollection(context: GcContext): Promise<GcPlan> {
  const { store, progress, signal } = context;
  progress.phase('marking');
  const repositories = await store.repositoriesOnDisk();
  progress.total(repositories.length);
  let complete = true;
  const marks = await mapLimited(repositories, MARK_CONCURRENCY, async (repo) => {
    if (signal.aborted) {
      complete = false;
      return undefined;
    }
    const marked = await markRepository(context, repo);
    progress.advance(1);
    return marked;
  });
  const plan: GcPlan = { repositories: [], blobs: [], examined: { repositories: 0, manifests: 0, blobs: 0 }, complete };
  if (!complete) return plan;

  const referenced = new Set<string>();
  for (const marked of marks) {
    if (!marked) continue;
    plan.examined.repositories += 1;
    plan.examined.manifests += marked.manifestsExamined;
    for (const digest of marked.referenced) referenced.add(digest);
    if (marked.plan.manifests.length > 0 || marked.plan.links.length > 0) plan.repositories.push(marked.plan);
  }

  const stored = await store.contents.storedBlobs();
  if (!context.rules.dryRun) for (const digest of stored.parked) await store.contents.restoreParkedBlob(digest);
  for (const digest of [...stored.digests, ...stored.parked]) {
    if (signal.aborted) return { ...plan, blobs: [], complete: false };
    plan.examined.blobs += 1;
    if (referenced.has(digest.value)) continue;
    const data = await store.contents.blobData(digest);
    if (data === undefined || isRecent(data.modifiedMs, context.rules)) continue;
    plan.blobs.push({ digest, size: data.size });
  }
  return plan;
}

/** A manifest's parsed form, or undefined when it cannot be read (then it and all the repository's links are kept). */
async function readParsed(context: GcContext, repo: string, digest: Digest): Promise<ParsedManifest | undefined> {
  const stored = await context.store.contents.readManifest(repo, digest);
  if (!stored) return undefined;
  try {
    return parseManifest(stored.bytes, stored.mediaType);
  } catch {
    return undefined;
  }
}

async function markRepository(context: GcContext, repo: string): Promise<RepositoryMarks> {
  const { contents } = context.store;
  const { rules } = context;
  const manifestEntries = await contents.manifestEntries(repo);
  const linkEntries = await contents.linkEntries(repo);
  if (!rules.dryRun) {
    // What a killed run left parked goes back first: nothing says it is unused.
    for (const digest of manifestEntries.parked) await contents.unparkRevision(repo, digest);
    for (const digest of linkEntries.parked) await contents.unparkLink(repo, digest);
  }
  const manifests = [...manifestEntries.digests, ...manifestEntries.parked];
  const links = [...linkEntries.digests, ...linkEntries.parked];

  const parsed = new Map<string, ParsedManifest | undefined>();
  for (const digest of manifests) parsed.set(digest.value, await readParsed(context, repo, digest));
  const unreadable = manifests.filter((digest) => parsed.get(digest.value) === undefined);
  if (unreadable.length > 0) {
    context.log.warn({ repo, manifests: unreadable.map((digest) => digest.value) }, 'gc: manifests that cannot be read are kept, and every blob linked into their repository with them');
  }

  const kept = rules.untagged ? await keptManifests(context, repo, manifests, parsed) : new Set(manifests.map((digest) => digest.value));
  const neededBlobs = new Set<string>();
  for (const digest of kept) neededBlobsOf(parsed.get(digest), neededBlobs);

  const removedLinks: Digest[] = [];
  if (unreadable.length === 0) {
    for (const digest of links) {
      if (neededBlobs.has(digest.value) || isRecent(await contents.linkLastUsed(repo, digest), rules)) continue;
      removedLinks.push(digest);
    }
  }
  const removed = new Set(removedLinks.map((digest) => digest.value));
  const candidates: ManifestCandidate[] = [];
  for (const digest of manifests) {
    const manifest = parsed.get(digest.value);
    if (!kept.has(digest.value) && manifest) candidates.push({ digest, manifest });
  }
  return {
    plan: { repo, manifests: candidates, links: removedLinks },
    manifestsExamined: manifests.length,
    referenced: [...kept, ...neededBlobs, ...links.map((digest) => digest.value).filter((digest) => !removed.has(digest))],
  };
}

/** Adds the blobs a manifest needs in its repository to `into`. */
export function neededBlobsOf(manifest: ParsedManifest | undefined, into: Set<string>): Set<string> {
  for (const blob of manifest === undefined ? [] : requiredBlobs(manifest)) into.add(blob.digest.value);
  return into;
}

/**
 * The manifests `--untagged` keeps: every tagged one, every one used within the grace period and
 * every one that cannot be read; then, until nothing changes, the manifests a kept index lists
 * and the referrers whose subject is kept.
 */
async function keptManifests(context: GcContext, repo: string, manifests: Digest[], parsed: Map<string, ParsedManifest | undefined>): Promise<Set<string>> {
  const present = new Set(manifests.map((digest) => digest.value));
  const tagged = new Set([...(await context.store.contents.tags(repo)).values()].map((digest) => digest.value));
  const roots: string[] = [];
  for (const digest of manifests) {
    const keep = tagged.has(digest.value) || parsed.get(digest.value) === undefined || isRecent(await context.store.contents.manifestLastUsed(repo, digest), context.rules);
    if (keep) roots.push(digest.value);
  }
  return keepClosure(roots, present, parsed);
}

/** `roots` and every manifest of `present` they keep: the children of kept indexes, the referrers of kept subjects. */
export function keepClosure(roots: Iterable<string>, present: Set<string>, parsed: ReadonlyMap<string, ParsedManifest | undefined>): Set<string> {
  const referrersOf = new Map<string, string[]>();
  for (const digest of present) {
    const subject = parsed.get(digest)?.subject?.digest.value;
    if (subject !== undefined) referrersOf.set(subject, [...(referrersOf.get(subject) ?? []), digest]);
  }
  const kept = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const digest = pending.pop() as string;
    if (kept.has(digest)) continue;
    kept.add(digest);
    const children = (parsed.get(digest)?.manifests ?? []).map((child) => child.digest.value);
    for (const next of [...children, ...(referrersOf.get(digest) ?? [])]) if (present.has(next) && !kept.has(next)) pending.push(next);
  }
  return kept;
}
