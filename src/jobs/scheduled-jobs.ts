import type { PortholeConfig } from '../config/schema.js';
import type { ScheduledJob } from './schedule.js';

/**
 * The jobs a configuration schedules inside serve: each with an `every` (prune: proxy.prune.enabled).
 * Each job's module is imported at its first run, not at start: a serve that schedules no backup
 * does not keep the archive code (tar, gzip, zstd) in memory, nor one without jobs any of them.
 */
export function scheduledJobs(config: PortholeConfig): ScheduledJob[] {
  const scheduled: ScheduledJob[] = [];
  const { gc, scrub, backup } = config.jobs;
  if (gc.every !== undefined) scheduled.push({ every: gc.every, make: async () => (await import('./gc.js')).gcJob(config, { dryRun: false }) });
  if (scrub.every !== undefined) scheduled.push({ every: scrub.every, make: async () => (await import('./scrub.js')).scrubJob(config) });
  // The schema refuses an `every` without `to`.
  if (backup.every !== undefined) scheduled.push({ every: backup.every, make: async () => (await import('./backup.js')).scheduledBackupJob(config) });
  const proxy = config.proxy;
  if (proxy?.prune.enabled) scheduled.push({ every: proxy.prune.every, make: async () => (await import('./prune-job.js')).pruneJob(proxy) });
  return scheduled;
}
