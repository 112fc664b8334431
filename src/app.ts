import { replicaIdOf } from './config/replica-id.js';
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { durationMs } from './config/durations.js';
import { metricsSettings, type PortholeConfig } from './config/schema.js';
import { accessLog, polledPaths } from './observability/access-log.js';
import { countedAuditor, disabledAuditor, type Auditor } from './observability/audit.js';
import { auditHook } from './observability/audit-hook.js';
import type { PortholeLogger } from './observability/logger.js';
import { httpMetrics } from './observability/metrics/http-metrics.js';
import { installMetricsEndpoint } from './observability/metrics/metrics-endpoint.js';
import { ScanShare } from './observability/metrics/shared-scan.js';
import { StorageGauges } from './observability/metrics/storage-gauges.js';
import { createTelemetry, type Telemetry } from './observability/metrics/telemetry.js';
import { reportRefused } from './observability/request-done.js';
import { requestChildLogger } from './observability/request-logger.js';
import { loadTracing } from './observability/tracing/load-tracing.js';
import { startPeriodic } from './periodic.js';
import { registryApi } from './registry/api-plugin.js';
import type { RegistryContext } from './registry/context.js';
import { queryOf } from './http/request-url.js';
import { writeClientError, writeError } from './registry/error-writer.js';
import { healthRoutes, type HealthState } from './registry/health.js';
import { createStorage } from './create-storage.js';
import { createAccessGate } from './auth/access-gate.js';
import { createMetricsAuth } from './auth/metrics-auth.js';
import { tokenEndpoint } from './auth/token-endpoint.js';
import { clientCertificates } from './auth/client-certificates.js';
import { ServerCertificate } from './http/server-certificate.js';
import { notAfterSeconds } from './http/tls.js';
import { JobRunner } from './jobs/runner.js';
import { pushgatewayPusher } from './jobs/pushgateway.js';
import { scheduleJobs } from './jobs/schedule.js';
import { scheduledJobs } from './jobs/scheduled-jobs.js';
import { installManagementApi } from './management/management-api.js';
import type { RegistryStore } from './storage/types.js';
import type { Logger } from 'pino';

export interface AppDeps {
  logger: PortholeLogger;
  /** Where security-relevant events go; the disabled twin when there is no audit log. */
  auditor?: Auditor;
}

export interface PortholeApp {
  server: FastifyInstance;
  store: RegistryStore;
  health: HealthState;
  telemetry: Telemetry;
  /** The audit log, every event counted in porthole_audit_events_total: serve records its own events here. */
  auditor: Auditor;
  /** Runs batch jobs (the scheduled ones, and those the management API starts). */
  jobs: JobRunner;
  /** The separate metrics listener (extensions.metrics.port), for the caller to listen on and close. */
  metricsListener?: FastifyInstance;
  /** The TLS certificate (http.tls), for the caller to reload on SIGHUP. */
  certificate?: ServerCertificate;
}

/** Kept back from the span flush at shutdown (see the onClose hook). */
const SHUTDOWN_MARGIN_MS = 250;

function noSchemaCompiler(): never {
  throw new Error('porthole routes declare no JSON schemas');
}

/** The one composition root: config and dependencies in, a ready-to-listen Fastify instance out. */
export async function buildApp(config: PortholeConfig, deps: AppDeps): Promise<PortholeApp> {
  const metricsConfig = metricsSettings(config);
  // The cache gauges read the store at scrape time, long after it exists; the store's
  // instrumentation needs the recorder, so telemetry comes first.
  // Replicas sharing a store (Redis, or a name given to this one) are told apart by a label on every metric.
  const replicated = config.redis !== undefined || config.replicaId !== undefined;
  const telemetry = createTelemetry(metricsConfig, () => store.cacheStats(), replicated ? replicaIdOf(config) : undefined);
  const auditor = countedAuditor(deps.auditor ?? disabledAuditor, telemetry.metrics.auditEvents);
  const tracing = await loadTracing(config.tracing, deps.logger.child({ module: 'tracing' }), telemetry.metrics, replicaIdOf(config));
  // With a `proxy` config the pull-through cache wraps the local store.
  const storage = await createStorage(config, { serving: true, recorder: telemetry.recorder, tracing, log: deps.logger.child({ module: 'storage' }) });
  const local = storage.store;
  // The disabled twin of the pull-through cache is its absence: the local store, unwrapped.
  // Loaded only when configured: the upstream client (undici) costs several MB of resident memory.
  const pullThrough = config.proxy
    ? (await import('./proxy/pull-through.js')).buildPullThrough(config.proxy, local, telemetry.recorder.upstreams, tracing, deps.logger.child({ module: 'proxy' }), storage.coordination.shared ? { flights: storage.coordination.flights, tokens: storage.coordination.values } : undefined)
    : undefined;
  const store: RegistryStore = pullThrough?.store ?? local;
  const health: HealthState = { started: false };
  // Read before the server exists: a certificate that cannot be served stops start-up, naming its key.
  const tls = config.http.tls;
  const certificate = tls
    ? ServerCertificate.load(tls, deps.logger.child({ module: 'tls' }), ({ leaf }) => telemetry.metrics.tlsCertificateExpiry.set({ file: tls.certificate }, notAfterSeconds(leaf)))
    : undefined;
  const server = Fastify({
    // HTTPS when http.tls is set, on the same listener; null is plain HTTP. Either way HTTP/1.1.
    https: certificate?.serverOptions ?? null,
    // Fastify types its logger as the base pino logger; ours only adds the `panic` level.
    loggerInstance: deps.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // One access line per request is written by accessLog, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // A request's logger becomes a pino child only if something logs through it (request-logger.ts).
    childLoggerFactory: (logger, bindings, options) => requestChildLogger(logger as Logger, bindings, options) as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 8192 },
    // The router rejects a malformed percent-encoding before any route runs; without this hook
    // Fastify answers with its own JSON, which is not an OCI error body.
    frameworkErrors: (err, request, reply) => {
      reportRefused(server, request, reply);
      writeError(err, request, reply);
    },
    clientErrorHandler: writeClientError,
    // Large blob uploads can take long; only a stalled connection should be cut.
    requestTimeout: 0,
    bodyLimit: 4 * 1024 * 1024,
    // No route declares a JSON schema (requests are checked by the OCI rules in src/core), so
    // Fastify's default compilers, which would load Ajv and fast-json-stringify (several MB of
    // resident memory), are replaced by ones that refuse to be used.
    schemaController: { compilersFactory: { buildValidator: noSchemaCompiler, buildSerializer: noSchemaCompiler } },
  });
  certificate?.serve(server.server);

  // Installed on the root instance itself (not registered as plugins, which Fastify would
  // encapsulate), so that their hooks see every request, unrouted ones included.
  // The server span starts first and ends last, so that the log lines and metrics can name it.
  tracing.instrumentServer(server, polledPaths(metricsConfig.prometheus.path));
  accessLog(server, metricsConfig.prometheus.path, tracing);
  auditHook(server, auditor, tracing);
  httpMetrics(server, telemetry.recorder, tracing);
  // Who a client certificate names, for the access gate, before any route runs.
  if (config.http.tls?.clientCA !== undefined) clientCertificates(server, (seconds) => telemetry.metrics.tlsClientCertificateExpiration.observe(seconds));
  await server.register(healthRoutes, health);
  const registryContext: RegistryContext = { store, deleteEnabled: config.storage.delete.enabled, tracing };
  if (config.storage.driver === 's3' && config.storage.s3?.redirect) registryContext.redirectBlobs = true;
  if (storage.coordination.shared) registryContext.writeRefusal = () => storage.coordination.writeRefusal();
  const access = await createAccessGate(config.auth, config.accessControl, {
    loginLimits: (settings) => storage.coordination.loginLimits(settings),
    log: deps.logger.child({ module: 'auth' }),
    auditor,
    // add, not inc: a login is counted on every authenticated request, so the keyed fast path.
    attempted: (method, outcome) => telemetry.metrics.authAttempts.add(`${method} ${outcome}`, { method, outcome }),
  }, config.http.tls?.clientCA !== undefined);
  if (access) registryContext.access = access;
  // porthole's own token realm, outside the /v2 API (none of its rules apply to it).
  if (access?.tokens?.issuer) await tokenEndpoint(server, access, access.tokens.issuer, access.tokens.service);
  if (pullThrough) registryContext.storageName = (name, request, use) => pullThrough.storageName(name, queryOf(request).get('ns'), use);
  await server.register(async (scope) => registryApi(scope, registryContext));
  // Scrapes log in through the gate itself: one HtpasswdUsers (its bcrypt cache, its reloads),
  // the same limits on failed logins and the same audit as the registry API's.
  const metricsAuth = createMetricsAuth(metricsConfig.auth, {
    login: access ? (request, encoded) => access.login(request, encoded) : undefined,
    realm: config.auth?.realm ?? 'porthole',
    auditor,
    log: deps.logger.child({ module: 'auth' }),
  });
  const metricsEndpoint = installMetricsEndpoint(server, metricsConfig, telemetry.registry, telemetry.everyMetric, telemetry.recorder, deps.logger.child({ module: 'metrics' }), metricsAuth?.onRequest);

  // While draining, every answer closes its connection, so keep-alive clients cannot hold a
  // graceful shutdown open after their last request finished.
  server.addHook('onSend', (_request, reply, payload, done) => {
    if (health.drainingSince !== undefined) reply.header('connection', 'close');
    done(null, payload);
  });

  await storage.coordination.start();
  await store.init();
  const storageLog = deps.logger.child({ module: 'storage' });
  const maxIdle = durationMs(config.storage.uploadExpiry);
  const stopPurge = startPeriodic(
    durationMs(config.storage.uploadPurgeInterval),
    async () => {
      const removed = await store.purgeUploads(maxIdle);
      if (removed > 0) storageLog.info({ removed }, 'expired upload sessions removed');
    },
    (err) => storageLog.error({ err }, 'upload purge failed'),
  );
  const reportingMs = durationMs(metricsConfig.reportingInterval);
  const { coordination } = storage;
  const gauges = new StorageGauges(
    store,
    telemetry.metrics,
    telemetry.repoLabels,
    config.storage.driver === 'filesystem' ? config.storage.filesystem.rootDirectory : undefined,
    coordination.shared ? new ScanShare(coordination.flights, coordination.values, reportingMs) : undefined,
  );
  const onScanError = (err: unknown) => storageLog.error({ err }, 'storage scan for metrics failed');
  gauges.refresh().catch(onScanError);
  const stopScans = startPeriodic(reportingMs, () => gauges.refresh(), onScanError);
  const jobsLog = deps.logger.child({ module: 'jobs' });
  const jobsStopping = new AbortController();
  const jobs = new JobRunner({
    storage,
    log: jobsLog,
    auditor,
    tracing,
    signal: jobsStopping.signal,
    metrics: { jobs: telemetry.metrics.jobs, pushgatewayErrors: telemetry.metrics.pushgatewayErrors, repositoryLabel: (repo) => telemetry.repoLabels.label(repo) },
    ...(config.jobs.pushgateway ? { push: pushgatewayPusher(config.jobs.pushgateway, jobsLog, (action) => telemetry.metrics.pushgatewayErrors.inc({ action })) } : {}),
  });
  const stopJobs = scheduleJobs(scheduledJobs(config), jobs, jobsLog);
  // The web dashboard, loaded only when on (its disabled twin is its absence): GET /api/v1/series and /ui/.
  const dashboard = config.extensions.ui.enable
    ? await (await import('./ui/web-dashboard.js')).createWebDashboard({ config, sources: { metrics: telemetry.metrics, recorder: telemetry.recorder, gauges, mode: telemetry.mode }, log: deps.logger.child({ module: 'ui' }) })
    : undefined;
  // /api/v1: the local storage (never the pull-through cache's upstreams), the scan's figures, the runs' records.
  await installManagementApi(server, { config, storage, gauges, jobs, access, metricsAuth, auditor, log: deps.logger.child({ module: 'management' }), ...(dashboard ? { series: dashboard.series } : {}) });
  await dashboard?.install(server, { access, metricsAuth, auditor });
  server.addHook('onClose', async () => {
    stopJobs();
    jobsStopping.abort();
    stopPurge();
    access?.close();
    metricsAuth?.close();
    certificate?.close();
    stopScans();
    metricsEndpoint.stop();
    await pullThrough?.close();
    await storage.coordination.close();
    storage.close();
    // Last: the spans of everything above are sent, within what is left of the shutdown's bound
    // (less a moment, so that its deadline, which cuts connections, finds none held by the flush).
    const timeoutMs = durationMs(config.http.shutdownTimeout);
    const spent = health.drainingSince === undefined ? 0 : Date.now() - health.drainingSince;
    await tracing.shutdown(Math.max(0, timeoutMs - spent - SHUTDOWN_MARGIN_MS));
  });

  health.started = true;
  const app: PortholeApp = { server, store, health, telemetry, jobs, auditor };
  if (metricsEndpoint.listener) app.metricsListener = metricsEndpoint.listener;
  if (certificate) app.certificate = certificate;
  return app;
}
