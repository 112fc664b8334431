import type { Driver } from '../storage/driver.js';
import type { LocalCache } from '../storage/local-cache.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { JobProgress } from './progress.js';
import type { JobTally } from './job-tally.js';

/** The batch jobs; the `action` label of their metrics and the name of their audit events (`job.gc`). */
export const JOB_ACTIONS = ['gc', 'scrub', 'backup', 'restore', 'prune'] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

/** How a run was started. */
export type JobTrigger = 'cli' | 'schedule';

/** A flat record of settings or results, as log fields, span attributes and the CLI's JSON output. */
export type JobFields = Record<string, string | number | boolean>;

/** What a job gets to do its work with. */
export interface JobWork {
  store: LocalCache;
  /** The driver under the store, for jobs that read the storage as it is (scrub, backup). */
  driver: Driver;
  /** Counts that become the run's metrics. */
  tally: JobTally;
  /** Bars on a terminal, periodic log lines elsewhere. */
  progress: JobProgress;
  log: PortholeLogger;
  /** Aborted when serve shuts down: a job stops at the next safe point. */
  signal: AbortSignal;
}

/** How a run ended, as the job sees it. */
export interface JobReport {
  /** The run did its work and found something wrong (scrub: corrupt content): the run counts as failed. */
  failed?: boolean;
  /** What the run did: its end log line, the CLI's output, its record. */
  summary: JobFields;
}

/** One run's worth of a job: its action, its settings, its work. */
export interface Job {
  readonly action: JobAction;
  /** This run's settings, for the start log line and the span. */
  readonly settings: JobFields;
  run(work: JobWork): Promise<JobReport>;
}
