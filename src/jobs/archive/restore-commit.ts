import type { PortholeLogger } from '../../observability/logger.js';
import type { LocalCache } from '../../storage/local-cache.js';
import type { JobProgress } from '../progress.js';
import type { BlobStaging } from './blob-staging.js';
import type { PlannedTag, RepositoryRestore, RestorePlan } from './restore-plan.js';

export interface CommitResult {
  manifests: { restored: number; skipped: number };
  blobs: { restored: number; skipped: number };
  tags: { restored: number; overwritten: number; kept: number; unchanged: number };
  /** `repo:tag` of every tag kept as it was (it pointed elsewhere, and no --overwrite). */
  keptTags: string[];
  /** Bytes of the blobs and manifests stored. */
  bytes: number;
  /** Seconds spent storing each repository's content. */
  seconds: Map<string, number>;
}

function stoppedCommit(): Error {
  return new Error('the restore was stopped (porthole is shutting down) during its commit: what it stored is whole, but no tag was set');
}

/**
 * Makes a staged restore visible, in the order that keeps every visible thing whole, also when
 * the process is killed between two steps: per repository, its blobs (verified on commit) and
 * then its manifests, children before parents, each put only once what it needs is there (the
 * store checks that too); the tags of every repository last. A tag that is there already and
 * points elsewhere is kept unless --overwrite (checked again now, for one set since the plan).
 */
export async function commitRestore(
  plan: RestorePlan,
  staging: BlobStaging,
  store: LocalCache,
  overwrite: boolean,
  progress: JobProgress,
  log: PortholeLogger,
  signal: AbortSignal,
): Promise<CommitResult> {
  const result: CommitResult = {
    manifests: { restored: 0, skipped: 0 },
    blobs: { restored: 0, skipped: 0 },
    tags: { restored: 0, overwritten: 0, kept: 0, unchanged: 0 },
    keptTags: [],
    bytes: 0,
    seconds: new Map(),
  };
  for (const repository of plan.repositories) {
    const started = performance.now();
    await commitRepository(repository, plan, staging, store, result, progress, signal);
    result.seconds.set(repository.repo, (performance.now() - started) / 1000);
  }
  for (const tag of plan.tags) {
    if (signal.aborted) throw stoppedCommit();
    await commitTag(tag, store, overwrite, result, log);
    progress.advance(1);
  }
  return result;
}

/**
 * Blob commits in flight at once: each fsyncs its data and directories, and the disk takes
 * several flushes at a time far better than one after the other.
 */
const COMMITS_IN_FLIGHT = 4;

/** Runs `work` on every item, at most `limit` at a time; rejects with the first failure once none is running. */
async function eachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next] as T;
      next += 1;
      try {
        await work(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

async function commitRepository(repository: RepositoryRestore, plan: RestorePlan, staging: BlobStaging, store: LocalCache, result: CommitResult, progress: JobProgress, signal: AbortSignal): Promise<void> {
  const { repo } = repository;
  result.blobs.skipped += repository.presentBlobs;
  result.manifests.skipped += repository.present;
  // Every blob is committed (or mounted) before the first manifest that needs it is put.
  await eachConcurrently(repository.blobs, COMMITS_IN_FLIGHT, async (blob) => {
    if (signal.aborted) throw stoppedCommit();
    const staged = staging.get(blob.digest);
    if (staged?.repo === repo) {
      await staging.commit(staged);
      result.bytes += blob.size;
    } else {
      const from = plan.stagingRepo.get(blob.digest.value);
      // Not staged anywhere: a foreign layer (with urls) that the archive does not hold.
      if (from === undefined || from === repo || !(await store.mountBlob(repo, blob.digest, from))) {
        if (blob.required) throw new Error(`blob ${blob.digest.value} for ${repo} was not staged; nothing of ${repo}'s manifests was put`);
        return;
      }
    }
    result.blobs.restored += 1;
    progress.advance(1, blob.size);
  });
  for (const manifest of repository.manifests) {
    if (signal.aborted) throw stoppedCommit();
    await store.putManifest(repo, { kind: 'digest', digest: manifest.digest }, manifest.bytes, manifest.mediaType);
    result.manifests.restored += 1;
    result.bytes += manifest.bytes.length;
    progress.advance(1, manifest.bytes.length);
  }
}

async function commitTag(tag: PlannedTag, store: LocalCache, overwrite: boolean, result: CommitResult, log: PortholeLogger): Promise<void> {
  const name = `${tag.repo}:${tag.tag}`;
  if (tag.decision === 'unchanged') {
    result.tags.unchanged += 1;
    return;
  }
  // Looked at again: a push since the plan counts as much as a tag that was there before.
  const current = tag.decision === 'overwrite' ? tag.current : (await store.getManifest(tag.repo, { kind: 'tag', tag: tag.tag }))?.digest.value;
  const kept = tag.decision === 'kept' || (!overwrite && current !== undefined && current !== tag.manifest.digest.value);
  if (kept) {
    result.tags.kept += 1;
    result.keptTags.push(name);
    log.info({ repo: tag.repo, tag: tag.tag, current, archive: tag.manifest.digest.value }, `restore: kept ${name}: it points at ${current ?? 'another manifest'}, the archive's at ${tag.manifest.digest.value} (--overwrite moves it)`);
    return;
  }
  if (current === tag.manifest.digest.value) {
    result.tags.unchanged += 1;
    return;
  }
  await store.putManifest(tag.repo, { kind: 'tag', tag: tag.tag }, tag.manifest.bytes, tag.manifest.mediaType);
  if (tag.decision === 'overwrite') {
    result.tags.overwritten += 1;
    log.info({ repo: tag.repo, tag: tag.tag, previous: current, archive: tag.manifest.digest.value }, `restore: moved ${name} from ${current ?? '?'} to ${tag.manifest.digest.value}`);
  } else {
    result.tags.restored += 1;
  }
}
