import type { PortholeConfig } from '../config/schema.js';
import { ArchiveWriter } from './archive/archive-writer.js';
import { BackupPlanner } from './archive/backup-plan.js';
import { archiveNameProblem, compressionOfName } from './archive/compression.js';
import { datedArchivePath, pruneDatedArchives, removeLeftoverPartials } from './archive/dated-archives.js';
import { repoGlobProblem, repoMatcher } from './archive/repo-globs.js';
import { writeBackup } from './archive/write-backup.js';
import type { Job, JobReport, JobWork } from './job.js';

export interface BackupOptions {
  /** The archive to write: .tar, .tar.gz or .tar.zst. */
  to: string;
  /** Repository globs; empty: every repository. */
  repos: string[];
}

/** Why these options cannot make a backup (for the CLI to refuse before anything runs), or undefined. */
export function backupOptionsProblem(options: BackupOptions): string | undefined {
  const nameProblem = archiveNameProblem(options.to);
  if (nameProblem !== undefined) return `--to ${nameProblem}`;
  for (const glob of options.repos) {
    const problem = repoGlobProblem(glob);
    if (problem !== undefined) return `--repo ${problem}`;
  }
  return undefined;
}

/** How many items the leftOut summary field names before it says "and N more". */
const LEFT_OUT_NAMED = 10;

/** `pattern` is what `to` was made from (jobs.backup.to with `{date}`), for the sweep of killed runs' partial files. */
async function runBackup(to: string, repos: string[], work: JobWork, pattern = to): Promise<JobReport> {
  const problem = backupOptionsProblem({ to, repos });
  if (problem !== undefined) throw new Error(problem);
  const { store, tally, progress, log, signal } = work;

  progress.phase('planning');
  const plan = await new BackupPlanner(store, signal).planFor(repoMatcher(repos));
  for (const { repo, reference, reason } of plan.leftOut) log.warn({ repo, reference, reason }, `backup: ${repo} ${reference} is left out: ${reason}`);

  const blobBytes = [...plan.blobs.values()].reduce((sum, blob) => sum + blob.size, 0);
  const manifestBytes = [...plan.manifests.values()].reduce((sum, manifest) => sum + manifest.bytes.length, 0);
  progress.phase('writing');
  progress.total(plan.manifests.size + plan.blobs.size, manifestBytes + blobBytes);

  const writer = await ArchiveWriter.create(to, compressionOfName(to) ?? 'none');
  let archiveBytes: number;
  let written: Awaited<ReturnType<typeof writeBackup>>;
  try {
    written = await writeBackup(plan, store, writer, progress, signal);
    archiveBytes = await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }

  tally.items('repository', 'copied', plan.repositories.length);
  tally.items('tag', 'copied', plan.tags);
  tally.items('manifest', 'copied', plan.manifests.size);
  tally.items('blob', 'copied', plan.blobs.size);
  if (plan.leftOut.length > 0) tally.items('tag', 'incomplete', plan.leftOut.length);
  tally.bytes('read', written.contentBytes);
  tally.bytes('written', archiveBytes);
  for (const repo of plan.repositories) tally.repository(repo, (plan.seconds.get(repo) ?? 0) + (written.seconds.get(repo) ?? 0));

  // Only now, with this run's archive in place and the job's lock held: a killed run's partial file.
  const removedPartials = await removeLeftoverPartials(pattern);
  for (const path of removedPartials) log.info({ path }, `backup: removed ${path}, left by a backup that was killed`);

  const leftOutNames = plan.leftOut.slice(0, LEFT_OUT_NAMED).map(({ repo, reference }) => `${repo}@${reference}`);
  if (plan.leftOut.length > LEFT_OUT_NAMED) leftOutNames.push(`and ${plan.leftOut.length - LEFT_OUT_NAMED} more`);
  return {
    summary: {
      to,
      repositories: plan.repositories.length,
      tags: plan.tags,
      manifests: plan.manifests.size,
      blobs: plan.blobs.size,
      bytes: written.contentBytes,
      archiveBytes,
      leftOut: plan.leftOut.length,
      removedPartials: removedPartials.length,
      ...(leftOutNames.length > 0 ? { leftOutNames: leftOutNames.join(', ') } : {}),
    },
  };
}

/**
 * `backup`: the chosen repositories as one OCI image layout in a tar (docs/jobs.md): every tag
 * named `<repository>:<tag>`, multi-arch indexes with their children, referrers included, each
 * blob once. Written to a hidden file beside `to` and renamed when complete.
 */
export function backupJob(_config: PortholeConfig, options: BackupOptions): Job {
  return {
    action: 'backup',
    settings: { to: options.to, repos: options.repos.join(' ') || '(all)' },
    run: (work) => runBackup(options.to, options.repos, work),
  };
}

/**
 * A run of jobs.backup on serve's schedule: `{date}` in jobs.backup.to becomes the UTC time of the
 * run, and after a successful run only the newest jobs.backup.keep archives that the pattern
 * names are kept.
 */
export function scheduledBackupJob(config: PortholeConfig): Job {
  const { to: pattern, keep, repos } = config.jobs.backup;
  if (pattern === undefined) throw new Error('jobs.backup.to is not set: a scheduled backup needs an archive path');
  return {
    action: 'backup',
    settings: { to: pattern, keep, repos: repos.join(' ') || '(all)' },
    async run(work) {
      const report = await runBackup(datedArchivePath(pattern, new Date()), repos, work, pattern);
      const removed = await pruneDatedArchives(pattern, keep);
      for (const path of removed) work.log.info({ path }, `backup: removed ${path}, older than the newest ${keep}`);
      return { ...report, summary: { ...report.summary, removedArchives: removed.length } };
    },
  };
}
