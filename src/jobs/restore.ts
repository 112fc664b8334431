import { stat } from 'node:fs/promises';
import type { PortholeConfig } from '../config/schema.js';
import { ArchiveLoad } from './archive/archive-load.js';
import { commitRestore } from './archive/restore-commit.js';
import { planRestore, type RestorePlan } from './archive/restore-plan.js';
import { repoGlobProblem, repoMatcher } from './archive/repo-globs.js';
import type { Job, JobReport, JobWork } from './job.js';

export interface RestoreOptions {
  /** The archive: a tar, plain, gzip or zstd (told by its first bytes). */
  from: string;
  /** Repository globs; empty: every repository of the archive. */
  repos: string[];
  /** Move existing tags to the archive's manifests (default: keep them). */
  overwrite: boolean;
  /** Repository for entries that name only a tag (skopeo's oci-archive:FILE:TAG), or none. */
  into?: string;
}

/** Why these options cannot make a restore (for the CLI to refuse before anything runs), or undefined. */
export function restoreOptionsProblem(options: RestoreOptions): string | undefined {
  for (const glob of options.repos) {
    const problem = repoGlobProblem(glob);
    if (problem !== undefined) return `--repo ${problem}`;
  }
  return undefined;
}

/** How many kept tags the summary names before it says "and N more". */
const KEPT_NAMED = 10;

function plannedItems(plan: RestorePlan): number {
  return plan.repositories.reduce((sum, repository) => sum + repository.blobs.length + repository.manifests.length, 0) + plan.tags.length;
}

async function runRestore(options: RestoreOptions, work: JobWork): Promise<JobReport> {
  const problem = restoreOptionsProblem(options);
  if (problem !== undefined) throw new Error(problem);
  const { store, tally, progress, log, signal } = work;
  const archiveBytes = (await stat(options.from)).size;
  let bytesRead = 0;

  const choices = { matches: repoMatcher(options.repos), overwrite: options.overwrite, ...(options.into === undefined ? {} : { into: options.into }) };
  const load = new ArchiveLoad(options.from, store, {
    decide: (graph) => planRestore(graph, store, choices),
    onRead: (bytes) => {
      bytesRead += bytes;
      progress.advance(0, bytes);
    },
    onEntry: () => progress.advance(1),
    onPass: (pass) => {
      progress.phase(pass === 1 ? 'reading' : 'reading again');
      progress.total(0, archiveBytes);
    },
    signal,
  });
  let plan: RestorePlan;
  try {
    plan = await load.load();
  } finally {
    tally.bytes('read', bytesRead);
  }
  for (const repo of plan.excluded) log.info({ repo }, `restore: ${repo} is in the archive but no --repo glob matches it`);

  progress.phase('committing');
  progress.total(plannedItems(plan));
  let result: Awaited<ReturnType<typeof commitRestore>>;
  try {
    result = await commitRestore(plan, load.staging, store, options.overwrite, progress, log, signal);
  } finally {
    // Sessions a failed commit did not reach; none are left after a whole one.
    await load.staging.cancelAll();
  }

  tally.items('repository', 'restored', plan.repositories.length);
  if (plan.excluded.length > 0) tally.items('repository', 'skipped', plan.excluded.length);
  tally.items('manifest', 'restored', result.manifests.restored);
  tally.items('manifest', 'skipped', result.manifests.skipped);
  tally.items('blob', 'restored', result.blobs.restored);
  tally.items('blob', 'skipped', result.blobs.skipped);
  tally.items('tag', 'restored', result.tags.restored);
  tally.items('tag', 'overwritten', result.tags.overwritten);
  tally.items('tag', 'kept', result.tags.kept);
  tally.items('tag', 'skipped', result.tags.unchanged);
  tally.bytes('written', result.bytes);
  for (const [repo, seconds] of result.seconds) tally.repository(repo, seconds);

  const kept = result.keptTags.slice(0, KEPT_NAMED);
  if (result.keptTags.length > KEPT_NAMED) kept.push(`and ${result.keptTags.length - KEPT_NAMED} more`);
  return {
    summary: {
      from: options.from,
      repositories: plan.repositories.length,
      tags: result.tags.restored + result.tags.overwritten,
      tagsOverwritten: result.tags.overwritten,
      tagsKept: result.tags.kept,
      tagsUnchanged: result.tags.unchanged,
      manifests: result.manifests.restored,
      blobs: result.blobs.restored,
      bytes: result.bytes,
      archiveBytesRead: bytesRead,
      passes: load.passes,
      ...(kept.length > 0 ? { keptTags: kept.join(', ') } : {}),
    },
  };
}

/**
 * `restore`: loads an OCI image layout archive (a backup, or one skopeo or another tool wrote)
 * into the registry, verifying every blob against its digest as it streams (docs/jobs.md). A
 * corrupt or truncated archive changes nothing; blobs are committed before the manifests that
 * need them, and tags are set last.
 */
export function restoreJob(_config: PortholeConfig, options: RestoreOptions): Job {
  return {
    action: 'restore',
    settings: { from: options.from, repos: options.repos.join(' ') || '(all)', overwrite: options.overwrite, ...(options.into === undefined ? {} : { into: options.into }) },
    run: (work) => runRestore(options, work),
  };
}
