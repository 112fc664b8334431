import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import { ConfigError, loadConfig, type Overrides } from '../config/load.js';
import { fromEnvironment } from '../config/environment.js';
import type { PortholeConfig } from '../config/schema.js';
import { createStorage, storageLocation } from '../create-storage.js';
import { storageFailure } from '../storage/storage-failure.js';
import type { Job, JobAction } from '../jobs/job.js';
import { pushgatewayPusher } from '../jobs/pushgateway.js';
import { JobRunner } from '../jobs/runner.js';
import { createAuditor, disabledAuditor } from '../observability/audit.js';
import { LogFile } from '../observability/log-files.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics/catalogue.js';
import { loadTracing } from '../observability/tracing/load-tracing.js';
import { EXIT } from './exit-codes.js';
import { tracingOverrides } from './tracing-options.js';
import { NO_CACHES } from '../storage/types.js';

/** The flags every job command takes. */
export interface JobCommandOptions {
  config?: string;
  root?: string;
  pushgateway?: string;
  logLevel?: string;
}

/** Longest wait for the spans of a CLI run to reach the collector before the command exits. */
const SPAN_FLUSH_MS = 5_000;

/** Stops the command before anything ran: a bad flag or configuration (exit 2). */
export function refuseJob(action: string, message: string): never {
  process.stderr.write(`porthole ${action}: ${message}\n`);
  process.exit(EXIT.badConfig);
}

async function readConfig(action: JobAction, options: JobCommandOptions, overrides: Overrides): Promise<PortholeConfig> {
  try {
    const environment = fromEnvironment(process.env);
    return await loadConfig(options.config, {
      'storage.filesystem.rootDirectory': options.root,
      'log.level': options.logLevel,
      'jobs.pushgateway.url': options.pushgateway,
      ...overrides,
      // The OTEL_* variables as serve honours them (no tracing flags on job commands).
      ...tracingOverrides({}, process.env, environment),
    }, environment);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    refuseJob(action, err.message);
  }
}

/**
 * Runs one job from the command line, on the same runner as serve's scheduled runs: the storage
 * of the configuration (attached beside a serve that may be running on it, never cleared), log
 * lines on stderr (progress bars there too, on a terminal), the audit log and tracing as
 * configured, a push to the Pushgateway when one is given; prints the run as one JSON line on
 * stdout. Exit 0 when it succeeded, 1 when it failed or found problems, 3 when another run of the
 * same job held its lock.
 */
export async function runJobCommand(
  action: JobAction,
  options: JobCommandOptions,
  overrides: Overrides,
  makeJob: (config: PortholeConfig) => Job,
): Promise<void> {
  const config = await readConfig(action, options, overrides);
  const job = makeJob(config);
  const logFile = await LogFile.open('stderr');
  const logger = createLogger(config.log, logFile.stream);
  const log = logger.child({ module: 'jobs' });
  const auditFile = config.log.audit === null ? undefined : await LogFile.open(config.log.audit, { buffered: false }).catch((err: unknown) => refuseJob(action, `log.audit: cannot open "${config.log.audit}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`));
  const auditor = auditFile ? createAuditor(auditFile.stream) : disabledAuditor;
  // Only the tracing counters are read here, and nothing serves these metrics: no runtime metrics
  // (prom-client's defaults would start an event-loop monitor in every CLI run).
  const metrics = createMetrics(new Registry(), { cacheStats: () => NO_CACHES, requestsInFlight: () => ({ read: 0, write: 0 }) });
  const tracing = await loadTracing(config.tracing, logger.child({ module: 'tracing' }), metrics, `${hostname()}:${process.pid}`);
  const storage = await createStorage(config, { log: logger.child({ module: 'storage' }), tracing });
  await storage.coordination.start();
  await storage.store.attach().catch((err: unknown) => {
    const location = storageLocation(config);
    return refuseJob(action, `${location.key}: cannot use ${location.where} (${storageFailure(err) ?? String(err)})`);
  });
  const gateway = config.jobs.pushgateway;
  const runner = new JobRunner({
    storage,
    log,
    auditor,
    tracing,
    terminal: true,
    ...(gateway ? { push: pushgatewayPusher(gateway, log, () => undefined) } : {}),
  });
  const record = await runner.run(job, 'cli');
  process.stdout.write(`${JSON.stringify({ action: record.action, outcome: record.outcome, seconds: record.seconds, ...record.summary, ...(record.error === undefined ? {} : { error: record.error }), ...(record.pushed === undefined ? {} : { pushed: record.pushed }) })}\n`);
  await storage.coordination.close();
  await tracing.shutdown(SPAN_FLUSH_MS);
  // Asynchronously, in order: a synchronous flush could overtake a write still under way.
  await Promise.all([logFile.flush(), auditFile?.flush()]);
  process.exitCode = record.outcome === 'success' ? EXIT.ok : record.outcome === 'skipped' ? EXIT.busy : EXIT.failure;
}
