import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { durationMs } from './config/durations.js';
import type { PortholeConfig } from './config/schema.js';
import { accessLog } from './observability/access-log.js';
import { disabledAuditor, type Auditor } from './observability/audit.js';
import { auditHook } from './observability/audit-hook.js';
import type { PortholeLogger } from './observability/logger.js';
import { registryApi } from './registry/api-plugin.js';
import { writeClientError, writeError } from './registry/error-writer.js';
import { healthRoutes, type HealthState } from './registry/health.js';
import { FilesystemDriver } from './storage/filesystem/fs-driver.js';
import { ImageStore } from './storage/image-store/image-store.js';
import type { RegistryStore } from './storage/types.js';

export interface AppDeps {
  logger: PortholeLogger;
  /** Where security-relevant events go; the disabled twin when there is no audit log. */
  auditor?: Auditor;
  /** Defaults to the filesystem image store under storage.rootDirectory. */
  store?: RegistryStore;
}

export interface PortholeApp {
  server: FastifyInstance;
  store: RegistryStore;
  health: HealthState;
}

/** The one composition root: config and dependencies in, a ready-to-listen Fastify instance out. */
export async function buildApp(config: PortholeConfig, deps: AppDeps): Promise<PortholeApp> {
  const store = deps.store ?? new ImageStore(new FilesystemDriver(config.storage.rootDirectory));
  const health: HealthState = { started: false, draining: false };
  const server = Fastify({
    // Fastify types its logger as the base pino logger; ours only adds the `panic` level.
    loggerInstance: deps.logger.child({ module: 'http' }) as FastifyBaseLogger,
    // One access line per request is written below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 8192 },
    // The router rejects a malformed percent-encoding before any route runs; without this hook
    // Fastify answers with its own JSON, which is not an OCI error body.
    frameworkErrors: (err, request, reply) => writeError(err, request, reply),
    clientErrorHandler: writeClientError,
    // Large blob uploads can take long; only a stalled connection should be cut.
    requestTimeout: 0,
    bodyLimit: 4 * 1024 * 1024,
  });

  // Installed on the root instance itself (not registered as plugins, which Fastify would
  // encapsulate), so that their hooks see every request, unrouted ones included.
  accessLog(server);
  auditHook(server, deps.auditor ?? disabledAuditor);
  await server.register(healthRoutes, health);
  await server.register(async (scope) => registryApi(scope, { store, deleteEnabled: config.storage.delete.enabled }));

  // While draining, every answer closes its connection, so keep-alive clients cannot hold a
  // graceful shutdown open after their last request finished.
  server.addHook('onSend', async (_request, reply, payload) => {
    if (health.draining) reply.header('connection', 'close');
    return payload;
  });

  await store.init();
  const storageLog = deps.logger.child({ module: 'storage' });
  const purgeEvery = durationMs(config.storage.uploadPurgeInterval);
  const maxIdle = durationMs(config.storage.uploadExpiry);
  const purgeTimer = setInterval(() => {
    store.purgeUploads(maxIdle).then(
      (removed) => removed > 0 && storageLog.info({ removed }, 'expired upload sessions removed'),
      (err: unknown) => storageLog.error({ err }, 'upload purge failed'),
    );
  }, purgeEvery);
  purgeTimer.unref();
  server.addHook('onClose', async () => clearInterval(purgeTimer));

  health.started = true;
  return { server, store, health };
}
