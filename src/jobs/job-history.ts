import type { JobAction, JobFields, JobTrigger } from './job.js';

/** One run of a job, as the management API will list it. */
export interface JobRunRecord {
  action: JobAction;
  trigger: JobTrigger;
  startedAt: string;
  endedAt: string;
  seconds: number;
  /** skipped: another run of the same job (here or in another porthole on the storage) held its lock. */
  outcome: 'success' | 'failure' | 'skipped';
  summary: JobFields;
  error?: string;
  /** Whether the run's metrics reached the Pushgateway; undefined when none is configured. */
  pushed?: boolean;
}

/** The most recent runs, newest last, bounded so that a job every minute cannot grow memory. */
export class JobHistory {
  private readonly runs: JobRunRecord[] = [];

  constructor(private readonly max = 100) {}

  add(record: JobRunRecord): void {
    this.runs.push(record);
    if (this.runs.length > this.max) this.runs.splice(0, this.runs.length - this.max);
  }

  list(action?: JobAction): JobRunRecord[] {
    return this.runs.filter((run) => action === undefined || run.action === action);
  }
}
