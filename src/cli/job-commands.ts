import { isDuration } from '../config/durations.js';
import { backupJob } from '../jobs/backup.js';
import { gcJob } from '../jobs/gc.js';
import { restoreJob } from '../jobs/restore.js';
import { scrubJob } from '../jobs/scrub.js';
import { refuseJob, runJobCommand, type JobCommandOptions } from './job-command.js';

export interface GcCommandOptions extends JobCommandOptions {
  untagged?: boolean;
  grace?: string;
  dryRun?: boolean;
}

/** `porthole gc`: removes what nothing references, once (docs/jobs.md). */
export async function gc(options: GcCommandOptions): Promise<void> {
  if (options.grace !== undefined && !isDuration(options.grace)) refuseJob('gc', `--grace: "${options.grace}" is not a duration such as 30m or 1h`);
  await runJobCommand('gc', options, { 'jobs.gc.untagged': options.untagged, 'jobs.gc.grace': options.grace }, (config) => gcJob(config, { dryRun: options.dryRun === true }));
}

export interface ScrubCommandOptions extends JobCommandOptions {
  repair?: boolean;
}

/** `porthole scrub`: re-hashes every blob and manifest, once; exit 1 when any is corrupt. */
export async function scrub(options: ScrubCommandOptions): Promise<void> {
  await runJobCommand('scrub', options, { 'jobs.scrub.repair': options.repair }, (config) => scrubJob(config));
}

export interface BackupCommandOptions extends JobCommandOptions {
  to: string;
  repo?: string[];
}

/** `porthole backup --to FILE`: the chosen repositories as one OCI image layout in a tar. */
export async function backup(options: BackupCommandOptions): Promise<void> {
  await runJobCommand('backup', options, {}, (config) => backupJob(config, { to: options.to, repos: options.repo ?? config.jobs.backup.repos }));
}

export interface RestoreCommandOptions extends JobCommandOptions {
  from: string;
  repo?: string[];
  overwrite?: boolean;
}

/** `porthole restore --from FILE`: loads a backup (or any OCI layout archive), verifying every digest. */
export async function restore(options: RestoreCommandOptions): Promise<void> {
  await runJobCommand('restore', options, {}, (config) => restoreJob(config, { from: options.from, repos: options.repo ?? [], overwrite: options.overwrite === true }));
}
