import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { durationMs } from './config/durations.js';
import type { PortholeConfig } from './config/schema.js';
import type { PortholeLogger } from './observability/logger.js';
import { registryApi } from './registry/api-plugin.js';
import { writeClientError, writeError } from './registry/error-writer.js';
import { healthRoutes, type HealthState } from './registry/health.js';
import { FilesystemDriver } from './storage/filesystem/fs-driver.js';
import { ImageStore } from './storage/image-store/image-store.js';
import type { RegistryStore } from './storage/types.js';

export interface AppDeps {
  logger: PortholeLogger;
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
    loggerInstance: deps.logger as FastifyBaseLogger,
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

  await server.register(healthRoutes, health);
  await server.register(async (scope) => registryApi(scope, { store, deleteEnabled: config.storage.delete.enabled }));

  // While draining, every answer closes its connection, so keep-alive clients cannot hold a
  // graceful shutdown open after their last request finished.
  server.addHook('onSend', async (_request, reply, payload) => {
    if (health.draining) reply.header('connection', 'close');
    return payload;
  });

  server.addHook('onResponse', async (request, reply) => {
    const quiet = request.url.startsWith('/livez') || request.url.startsWith('/readyz') || request.url.startsWith('/startupz');
    const line = {
      module: 'http',
      method: request.method,
      route: request.routeTemplate ?? request.routeOptions.url,
      path: request.url.split('?', 1)[0],
      status: reply.statusCode,
      latency: reply.elapsedTime / 1000,
      repo: request.repository,
      clientIP: request.ip,
    };
    if (quiet) request.log.debug(line, 'request served');
    else request.log.info(line, 'request served');
  });

  await store.init();
  const purgeEvery = durationMs(config.storage.uploadPurgeInterval);
  const maxIdle = durationMs(config.storage.uploadExpiry);
  const purgeTimer = setInterval(() => {
    store.purgeUploads(maxIdle).then(
      (removed) => removed > 0 && deps.logger.info({ module: 'storage', removed }, 'expired upload sessions removed'),
      (err: unknown) => deps.logger.error({ module: 'storage', err }, 'upload purge failed'),
    );
  }, purgeEvery);
  purgeTimer.unref();
  server.addHook('onClose', async () => clearInterval(purgeTimer));

  health.started = true;
  return { server, store, health };
}
