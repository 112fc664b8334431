import { Registry, type Counter } from 'prom-client';
import type { Storage } from '../create-storage.js';
import type { Auditor } from '../observability/audit.js';
import type { PortholeLogger } from '../observability/logger.js';
import { declareJobMetrics, type JobMetrics } from '../observability/metrics/job-metrics.js';
import type { SpanAttributes, Tracing } from '../observability/tracing/tracing.js';
import { layout } from '../storage/layout.js';
import { JobHistory, type JobRunRecord } from './job-history.js';
import type { Job, JobAction, JobFields, JobReport, JobTrigger } from './job.js';
import { JobTally } from './job-tally.js';
import { createProgress } from './progress.js';
import { noPush, type PushRun } from './pushgateway.js';
import { JobRunRecords } from './run-records.js';

/** serve's metrics, which scheduled runs add to. */
export interface ServeJobMetrics {
  jobs: JobMetrics;
  pushgatewayErrors: Counter<'action'>;
  /** Bounds the repository label, as for every per-repository metric. */
  repositoryLabel(repo: string): string;
}

export interface JobRunnerDeps {
  storage: Storage;
  log: PortholeLogger;
  auditor: Auditor;
  tracing: Tracing;
  push?: PushRun;
  /** Present inside serve. */
  metrics?: ServeJobMetrics;
  /** Progress bars (CLI runs on a terminal) rather than periodic log lines. */
  terminal?: boolean;
  /** Aborted at shutdown. */
  signal?: AbortSignal;
}

/** The server's own entries in the audit log. */
const SUBJECT = 'porthole';

function spanAttributes(prefix: string, fields: JobFields): SpanAttributes {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [`${prefix}${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, value]));
}

/** The gauges of a finished run (the counters come from its tally). */
function recordOutcome(metrics: JobMetrics, action: JobAction, succeeded: boolean, endedAtMs: number, seconds: number): void {
  metrics.success.set({ action }, succeeded ? 1 : 0);
  metrics.fail.set({ action }, succeeded ? 0 : 1);
  metrics.lastRun.set({ action }, endedAtMs / 1000);
  if (succeeded) metrics.lastSuccess.set({ action }, endedAtMs / 1000);
  metrics.duration.set({ action }, seconds);
}

/**
 * The one way a batch job runs, from the CLI or on serve's schedule. Every run gets: the job's
 * lock in the storage (two runs of the same job never overlap, across processes too), a start
 * and an end log line, an audit event (`job.gc`, success or failure), a span when tracing is on,
 * its metrics (on serve's /metrics when it runs there, and pushed to the Pushgateway when one is
 * configured, failed runs too) and a record in the history, in memory and in the storage.
 */
export class JobRunner {
  readonly history = new JobHistory();
  /** Every run's record in the storage too, where any porthole on it lists them (the management API). */
  readonly records: JobRunRecords;
  private readonly push: PushRun;
  private readonly signal: AbortSignal;

  constructor(private readonly deps: JobRunnerDeps) {
    this.push = deps.push ?? noPush;
    this.signal = deps.signal ?? new AbortController().signal;
    this.records = new JobRunRecords(deps.storage.driver);
  }

  /** A run's record into the history and the storage. A record that cannot be written is logged: the run's outcome stands. */
  private async keep(record: JobRunRecord, log: PortholeLogger): Promise<void> {
    this.history.add(record);
    await this.records.add(record).catch((err: unknown) => log.warn({ err }, `${record.action}: the record of this run could not be written to the storage`));
  }

  async run(job: Job, trigger: JobTrigger): Promise<JobRunRecord> {
    const { action } = job;
    const log = this.deps.log.child({ job: action, trigger });
    const started = Date.now();
    let lock: Awaited<ReturnType<Storage['locks']['acquire']>>;
    try {
      lock = await this.deps.storage.locks.acquire(layout.jobLock(action), action);
    } catch (err) {
      // The storage cannot even take the lock (unreadable, full): a failed run like any other.
      log.info(job.settings, `${action} started`);
      return this.finish(job, trigger, log, started, { failure: err, tally: new JobTally() });
    }
    if ('heldBy' in lock) {
      const { heldBy } = lock;
      log.warn({ heldBy }, `${action} not run: another run holds its lock (pid ${heldBy.pid} on ${heldBy.host}, since ${heldBy.startedAt})`);
      const record: JobRunRecord = {
        action,
        trigger,
        startedAt: new Date(started).toISOString(),
        endedAt: new Date().toISOString(),
        seconds: 0,
        outcome: 'skipped',
        summary: { heldByHost: heldBy.host, heldByPid: heldBy.pid },
      };
      await this.keep(record, log);
      return record;
    }
    log.info(job.settings, `${action} started`);
    const progress = await createProgress(action, log, { terminal: this.deps.terminal === true });
    const span = this.deps.tracing.startSpan(`job.${action}`, { 'porthole.job': action, 'porthole.trigger': trigger, ...spanAttributes('porthole.', job.settings) }, { root: true });
    const tally = new JobTally();
    let failure: unknown;
    let report: JobReport | undefined;
    try {
      // The job's storage work is the span's children, however many awaits into the run.
      const store = this.deps.tracing.bindStore(this.deps.storage.store, span.scope);
      // A lock lost while held (Redis out of reach past its lease) stops the run as a shutdown would:
      // another run may hold it by now.
      const lost = lock.lost;
      lost?.addEventListener('abort', () => log.warn({ reason: String(lost.reason) }, `${action}: its lock was lost; the run stops`), { once: true });
      const signal = lost ? AbortSignal.any([this.signal, lost]) : this.signal;
      report = await job.run({ store, driver: this.deps.storage.driver, tally, progress, log, signal });
    } catch (err) {
      failure = err;
    } finally {
      progress.stop();
      await lock.release().catch((err: unknown) => log.warn({ err }, `${action}: its lock could not be released; the next run takes it over once stale`));
    }
    const succeeded = failure === undefined && report?.failed !== true;
    span.setAttributes(spanAttributes('porthole.result.', report?.summary ?? {}));
    span.end(failure ?? (succeeded ? undefined : new Error(`${action} found problems`)));
    return this.finish(job, trigger, log, started, { failure, report, tally });
  }

  /** Everything a run ends with, failed or not: the end log line, the audit event, the metrics and their push, the record. */
  private async finish(job: Job, trigger: JobTrigger, log: PortholeLogger, started: number, ran: { failure?: unknown; report?: JobReport; tally: JobTally }): Promise<JobRunRecord> {
    const { action } = job;
    const { failure, report, tally } = ran;
    const ended = Date.now();
    const seconds = (ended - started) / 1000;
    const succeeded = failure === undefined && report?.failed !== true;
    const summary = report?.summary ?? {};
    const error = failure === undefined ? undefined : failure instanceof Error ? failure.message : String(failure);
    if (succeeded) log.info({ ...summary, seconds }, `${action} finished`);
    else log.error({ ...summary, seconds, ...(failure === undefined ? {} : { err: failure }) }, `${action} failed`);
    this.deps.auditor.record({
      action: `job.${action}`,
      outcome: succeeded ? 'success' : 'failure',
      subject: SUBJECT,
      detail: JSON.stringify({ trigger, seconds, ...summary, ...(error === undefined ? {} : { error }) }),
    });

    const served = this.deps.metrics;
    if (served) {
      recordOutcome(served.jobs, action, succeeded, ended, seconds);
      tally.writeInto(served.jobs, action, (repo) => served.repositoryLabel(repo));
    }
    // A registry of the run's own: the push carries exactly this run.
    const own = new Registry();
    const ownMetrics = declareJobMetrics(own);
    recordOutcome(ownMetrics, action, succeeded, ended, seconds);
    tally.writeInto(ownMetrics, action);
    const pushed = this.deps.push === undefined ? undefined : await this.push(action, own);

    const record: JobRunRecord = {
      action,
      trigger,
      startedAt: new Date(started).toISOString(),
      endedAt: new Date(ended).toISOString(),
      seconds,
      outcome: succeeded ? 'success' : 'failure',
      summary,
      ...(error === undefined ? {} : { error }),
      ...(pushed === undefined ? {} : { pushed }),
    };
    await this.keep(record, log);
    return record;
  }
}
