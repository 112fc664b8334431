import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { durationMs } from './config/durations.js';
import { metricsSettings, type PortholeConfig } from './config/schema.js';
import { accessLog, polledPaths } from './observability/access-log.js';
import { disabledAuditor, type Auditor } from './observability/audit.js';
import { auditHook } from './observability/audit-hook.js';
import type { PortholeLogger } from './observability/logger.js';
import { httpMetrics } from './observability/metrics/http-metrics.js';
import { installMetricsEndpoint } from './observability/metrics/metrics-endpoint.js';
import type { MetricsRecorder } from './observability/metrics/recorder.js';
import { StorageGauges } from './observability/metrics/storage-gauges.js';
import { createTelemetry, type Telemetry } from './observability/metrics/telemetry.js';
import { reportRefused } from './observability/request-done.js';
import { StorageFullWatch } from './observability/storage-full-watch.js';
import { loadTracing } from './observability/tracing/load-tracing.js';
import type { Tracing } from './observability/tracing/tracing.js';
import { startPeriodic } from './periodic.js';
import { pruneOptionsOf } from './proxy/cache-pruner.js';
import type { PullThrough } from './proxy/pull-through.js';
import type { PruneConfig } from './config/proxy-schema.js';
import { registryApi } from './registry/api-plugin.js';
import type { RegistryContext } from './registry/context.js';
import { queryOf } from './http/request-url.js';
import { writeClientError, writeError } from './registry/error-writer.js';
import { healthRoutes, type HealthState } from './registry/health.js';
import { FilesystemDriver } from './storage/filesystem/fs-driver.js';
import { ImageStore } from './storage/image-store/image-store.js';
import type { LocalCache } from './storage/local-cache.js';
import { InstrumentedDriver } from './storage/instrumented-driver.js';
import type { RegistryStore } from './storage/types.js';

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
  /** The separate metrics listener (extensions.metrics.port), for the caller to listen on and close. */
  metricsListener?: FastifyInstance;
}

/**
 * The filesystem image store under storage.rootDirectory: its driver timed for metrics and
 * watched for a full disk, the store itself traced (the undecorated store when tracing is off).
 */
function localStore(config: PortholeConfig, recorder: MetricsRecorder, tracing: Tracing, log: PortholeLogger): LocalCache {
  const storageFull = new StorageFullWatch(recorder.metrics.storageFull, log);
  const driver = new InstrumentedDriver(new FilesystemDriver(config.storage.rootDirectory, { zeroCopy: config.storage.sendfile }), (operation, seconds, failure) => {
    recorder.storageOperation(operation, seconds, failure !== undefined);
    storageFull.observe(operation, failure);
  });
  const onLockWait = (seconds: number): void => {
    recorder.lockWaited('upload', seconds);
    tracing.pastSpan('storage.lockWait', { 'porthole.lock': 'upload' }, seconds);
  };
  return tracing.traceStore(new ImageStore(driver, { onLockWait, spans: tracing }));
}

/** The pull-through cache's scheduled prune (proxy.prune), logged, counted and traced for each run. */
function schedulePrune(pullThrough: PullThrough, prune: PruneConfig, recorder: MetricsRecorder, tracing: Tracing, log: PortholeLogger): () => void {
  const options = pruneOptionsOf(prune);
  return startPeriodic(
    durationMs(prune.every),
    async () => {
      const span = tracing.startSpan('job.prune', { 'porthole.job': 'prune', 'porthole.dry_run': prune.dryRun }, { root: true });
      try {
        const result = await span.run(() => pullThrough.prune(options));
        span.setAttributes({ 'porthole.manifests': result.manifests, 'porthole.blobs': result.blobs, 'porthole.bytes': result.bytes });
        span.end();
        if (!result.dryRun) recorder.pruned(result.manifests, result.blobs, result.bytes);
        log.info({ ...result, olderThan: prune.olderThan, by: prune.by }, 'cache pruned');
      } catch (err) {
        span.end(err);
        throw err;
      }
    },
    (err) => log.error({ err }, 'cache prune failed'),
  );
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
  const telemetry = createTelemetry(metricsConfig, () => store.cacheStats());
  const tracing = await loadTracing(config.tracing, deps.logger.child({ module: 'tracing' }), telemetry.metrics);
  // With a `proxy` config the pull-through cache wraps the local store.
  const local = localStore(config, telemetry.recorder, tracing, deps.logger.child({ module: 'storage' }));
  // The disabled twin of the pull-through cache is its absence: the local store, unwrapped.
  // Loaded only when configured: the upstream client (undici) costs several MB of resident memory.
  const pullThrough = config.proxy
    ? (await import('./proxy/pull-through.js')).buildPullThrough(config.proxy, local, telemetry.recorder.upstreams, tracing, deps.logger.child({ module: 'proxy' }))
    : undefined;
  const store: RegistryStore = pullThrough?.store ?? local;
  const health: HealthState = { started: false };
  const server = Fastify({
    // Fastify types its logger as the base pino logger; ours only adds the `panic` level.
    loggerInstance: deps.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // One access line per request is written by accessLog, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
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

  // Installed on the root instance itself (not registered as plugins, which Fastify would
  // encapsulate), so that their hooks see every request, unrouted ones included.
  // The server span starts first and ends last, so that the log lines and metrics can name it.
  tracing.instrumentServer(server, polledPaths(metricsConfig.prometheus.path));
  accessLog(server, metricsConfig.prometheus.path, tracing);
  auditHook(server, deps.auditor ?? disabledAuditor, tracing);
  httpMetrics(server, telemetry.recorder, tracing);
  await server.register(healthRoutes, health);
  const registryContext: RegistryContext = { store, deleteEnabled: config.storage.delete.enabled, tracing };
  if (pullThrough) registryContext.storageName = (name, request, use) => pullThrough.storageName(name, queryOf(request).get('ns'), use);
  await server.register(async (scope) => registryApi(scope, registryContext));
  const metricsEndpoint = installMetricsEndpoint(server, metricsConfig, telemetry.registry, telemetry.recorder, deps.logger.child({ module: 'metrics' }));

  // While draining, every answer closes its connection, so keep-alive clients cannot hold a
  // graceful shutdown open after their last request finished.
  server.addHook('onSend', async (_request, reply, payload) => {
    if (health.drainingSince !== undefined) reply.header('connection', 'close');
    return payload;
  });

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
  const gauges = new StorageGauges(store, telemetry.metrics, telemetry.repoLabels);
  const onScanError = (err: unknown) => storageLog.error({ err }, 'storage scan for metrics failed');
  gauges.refresh().catch(onScanError);
  const stopScans = startPeriodic(durationMs(metricsConfig.reportingInterval), () => gauges.refresh(), onScanError);
  const stopPrune =
    pullThrough && config.proxy?.prune.enabled ? schedulePrune(pullThrough, config.proxy.prune, telemetry.recorder, tracing, deps.logger.child({ module: 'proxy' })) : () => undefined;
  server.addHook('onClose', async () => {
    stopPrune();
    stopPurge();
    stopScans();
    metricsEndpoint.stop();
    await pullThrough?.close();
    // Last: the spans of everything above are sent, within what is left of the shutdown's bound
    // (less a moment, so that its deadline, which cuts connections, finds none held by the flush).
    const timeoutMs = durationMs(config.http.shutdownTimeout);
    const spent = health.drainingSince === undefined ? 0 : Date.now() - health.drainingSince;
    await tracing.shutdown(Math.max(0, timeoutMs - spent - SHUTDOWN_MARGIN_MS));
  });

  health.started = true;
  const app: PortholeApp = { server, store, health, telemetry };
  if (metricsEndpoint.listener) app.metricsListener = metricsEndpoint.listener;
  return app;
}
