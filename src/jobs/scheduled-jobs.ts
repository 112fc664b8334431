import type { PortholeConfig } from '../config/schema.js';
import { scheduledBackupJob } from './backup.js';
import { gcJob } from './gc.js';
import { pruneJob } from './prune-job.js';
import type { ScheduledJob } from './schedule.js';
import { scrubJob } from './scrub.js';

/** The jobs a configuration schedules inside serve: each with an `every` (prune: proxy.prune.enabled). */
export function scheduledJobs(config: PortholeConfig): ScheduledJob[] {
  const scheduled: ScheduledJob[] = [];
  const { gc, scrub, backup } = config.jobs;
  if (gc.every !== undefined) scheduled.push({ every: gc.every, make: () => gcJob(config, { dryRun: false }) });
  if (scrub.every !== undefined) scheduled.push({ every: scrub.every, make: () => scrubJob(config) });
  // The schema refuses an `every` without `to`.
  if (backup.every !== undefined) scheduled.push({ every: backup.every, make: () => scheduledBackupJob(config) });
  const proxy = config.proxy;
  if (proxy?.prune.enabled) scheduled.push({ every: proxy.prune.every, make: () => pruneJob(proxy) });
  return scheduled;
}
