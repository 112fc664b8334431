import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDuration } from '../config/durations.js';
import { isValidName } from '../core/names.js';
import { backupJob, backupOptionsProblem } from '../jobs/backup.js';
import { gcJob } from '../jobs/gc.js';
import { restoreJob, restoreOptionsProblem } from '../jobs/restore.js';
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

/** What kind of file system entry `path` is, if any. */
function entryKind(path: string): 'file' | 'directory' | 'other' | undefined {
  try {
    const info = statSync(path);
    return info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other';
  } catch {
    return undefined;
  }
}

/** `porthole backup --to FILE`: the chosen repositories as one OCI image layout in a tar. */
export async function backup(options: BackupCommandOptions): Promise<void> {
  const problem = backupOptionsProblem({ to: options.to, repos: options.repo ?? [] });
  if (problem !== undefined) refuseJob('backup', problem);
  if (entryKind(dirname(options.to)) !== 'directory') refuseJob('backup', `--to "${options.to}": the directory ${dirname(options.to)} does not exist`);
  if (entryKind(options.to) === 'directory') refuseJob('backup', `--to "${options.to}" is a directory; name the archive file`);
  await runJobCommand('backup', options, {}, (config) => backupJob(config, { to: options.to, repos: options.repo ?? config.jobs.backup.repos }));
}

export interface RestoreCommandOptions extends JobCommandOptions {
  from: string;
  repo?: string[];
  overwrite?: boolean;
  into?: string;
}

/** `porthole restore --from FILE`: loads a backup (or any OCI layout archive), verifying every digest. */
export async function restore(options: RestoreCommandOptions): Promise<void> {
  const restoreOptions = { from: options.from, repos: options.repo ?? [], overwrite: options.overwrite === true, ...(options.into === undefined ? {} : { into: options.into }) };
  const problem = restoreOptionsProblem(restoreOptions);
  if (problem !== undefined) refuseJob('restore', problem);
  if (options.into !== undefined && !isValidName(options.into)) refuseJob('restore', `--into "${options.into}" is not a repository name (lower-case components such as team/app)`);
  if (entryKind(options.from) !== 'file') refuseJob('restore', `--from "${options.from}": ${entryKind(options.from) === undefined ? 'no such file' : 'not a file'}`);
  await runJobCommand('restore', options, {}, (config) => restoreJob(config, restoreOptions));
}
