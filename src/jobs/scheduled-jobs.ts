import type { PortholeConfig } from '../config/schema.js';
import { pruneJob } from './prune-job.js';
import type { ScheduledJob } from './schedule.js';

/** The jobs a configuration schedules inside serve: each with an `every` (prune: proxy.prune.enabled). */
export function scheduledJobs(config: PortholeConfig): ScheduledJob[] {
  const scheduled: ScheduledJob[] = [];
  const proxy = config.proxy;
  if (proxy?.prune.enabled) scheduled.push({ every: proxy.prune.every, make: () => pruneJob(proxy) });
  return scheduled;
}
