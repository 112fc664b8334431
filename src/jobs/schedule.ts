import { durationMs } from '../config/durations.js';
import type { PortholeLogger } from '../observability/logger.js';
import { startPeriodic } from '../periodic.js';
import type { Job } from './job.js';
import type { JobRunner } from './runner.js';

/**
 * A job to run inside serve every `every`; `make` builds each run afresh (a backup's file name
 * has the date), importing the job's module on the first run (scheduled-jobs.ts).
 */
export interface ScheduledJob {
  every: string;
  make(): Promise<Job>;
}

/**
 * Runs each scheduled job on the runner, `every` after its previous run finished (so a run never
 * overlaps the one before; the runner's lock keeps other portholes' runs apart). Returns the
 * function that stops the schedule.
 */
export function scheduleJobs(jobs: ScheduledJob[], runner: JobRunner, log: PortholeLogger): () => void {
  const stops = jobs.map((scheduled) =>
    startPeriodic(
      durationMs(scheduled.every),
      async () => runner.run(await scheduled.make(), 'schedule'),
      // The runner records and logs a job's own failure; this is for the runner failing itself.
      (err) => log.error({ err }, 'scheduled job could not run'),
    ),
  );
  return () => {
    for (const stop of stops) stop();
  };
}
