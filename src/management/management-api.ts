import { replicaIdOf } from '../config/replica-id.js';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessGate } from '../auth/access-gate.js';
import type { MetricsAuth } from '../auth/metrics-auth.js';
import { durationMs } from '../config/durations.js';
import type { PortholeConfig } from '../config/schema.js';
import { RegistryError } from '../core/errors.js';
import type { Storage } from '../create-storage.js';
import { pathOf } from '../http/request-url.js';
import type { JobRunner } from '../jobs/runner.js';
import type { Auditor } from '../observability/audit.js';
import { buildInfo } from '../observability/build-info.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { StorageGauges } from '../observability/metrics/storage-gauges.js';
import { requestsInProgress } from '../observability/request-done.js';
import { writeError } from '../registry/error-writer.js';
import { sendPage } from '../registry/pagination.js';
import { MANAGEMENT_PREFIX, type ReplicasResponse, type SeriesResponse } from './api-types.js';
import { GarbageEstimate } from './garbage-estimate.js';
import { recentJobs } from './jobs.js';
import { LastPulls } from './last-pulls.js';
import { ManagementAuth } from './management-auth.js';
import { replicaRecord, listReplicas } from './replica-list.js';
import { ReplicaHeartbeat } from './replica-heartbeat.js';
import { repositoriesPage } from './repositories.js';
import { summary } from './summary.js';

export interface ManagementDeps {
  config: PortholeConfig;
  /** The local storage (under any pull-through cache): its store, driver and nothing else. */
  storage: Storage;
  /** The metrics' periodic storage scan, whose figures the summary shares. */
  gauges: StorageGauges;
  jobs: JobRunner;
  access: AccessGate | undefined;
  metricsAuth: MetricsAuth | undefined;
  auditor: Auditor;
  log: PortholeLogger;
  /** The web dashboard's sampled figures (src/ui/), served as GET /api/v1/series; absent: no such endpoint. */
  series?: () => SeriesResponse;
}

/** What the composition root keeps of the management API. */
export interface ManagementApi {
  /** This process's id among the replicas on the storage. */
  readonly replicaId: string;
}

type Answer = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

const READ_ONLY = new Set(['GET', 'HEAD']);

function sendJson(reply: FastifyReply, body: unknown): FastifyReply {
  // Figures of now: no cache along the way may serve them later.
  return reply.code(200).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify(body));
}

/**
 * porthole's read-only management API, /api/v1 (docs/api.md#management-api; its JSON is
 * api-types.ts): installs its request hooks on the root instance (requests in flight, last pulls),
 * starts this process's replica heartbeat and the background garbage estimate, and registers the
 * routes on the main listener. Errors go through the one error writer, in the OCI error format.
 */
export async function installManagementApi(server: FastifyInstance, deps: ManagementDeps): Promise<ManagementApi> {
  const { config, storage, gauges, jobs, log } = deps;
  const lastPulls = new LastPulls();
  lastPulls.install(server);

  const stopping = new AbortController();
  const garbage = new GarbageEstimate({ store: storage.store, rules: { graceMs: durationMs(config.jobs.gc.grace), untagged: config.jobs.gc.untagged }, log, signal: stopping.signal });
  // After each storage scan, so no more often than it; never for a request.
  gauges.onScan(() => void garbage.refresh());
  if (gauges.lastScan !== undefined) void garbage.refresh();

  const { version } = buildInfo();
  const heartbeat = new ReplicaHeartbeat({
    id: replicaIdOf(config),
    driver: storage.driver,
    intervalMs: durationMs(config.storage.heartbeatInterval),
    version,
    // Counted by the hooks that see every request done (request-done.ts), in either metrics mode.
    inFlight: () => requestsInProgress(server),
    address: `${config.http.address}:${config.http.port}`,
    log,
  });
  await heartbeat.start();
  server.addHook('onListen', async () => {
    const bound = server.server.address();
    if (bound !== null && typeof bound === 'object') await heartbeat.listening(bound as AddressInfo);
  });
  server.addHook('onClose', async () => {
    stopping.abort();
    await heartbeat.stop();
  });

  const auth = new ManagementAuth(deps.access, deps.metricsAuth, deps.auditor);
  const answers: Record<string, Answer> = {
    summary: async (_request, reply) => {
      sendJson(reply, await summary({ gauges, garbage, startedAtMs: heartbeat.startedAtMs, version, mode: config.proxy ? 'cache' : 'hosted', replicaId: heartbeat.id }));
    },
    replicas: async (_request, reply) => {
      const replicas = await listReplicas(storage.driver, log);
      // Itself, even when its heartbeat could not be written (then as of its last one: unhealthy).
      const own = heartbeat.record;
      if (own !== undefined && !replicas.some((replica) => replica.id === heartbeat.id)) replicas.push(replicaRecord(own, Date.now()));
      sendJson(reply, { replicas } satisfies ReplicasResponse);
    },
    jobs: async (request, reply) => {
      sendJson(reply, await recentJobs(jobs.records, request));
    },
    repositories: async (request, reply) => {
      const { page, body } = await repositoriesPage({ store: storage.store, driver: storage.driver, gauges, lastPulls }, request);
      sendPage(reply.header('cache-control', 'no-store'), page, { repositories: body.repositories });
    },
  };
  const { series } = deps;
  if (series !== undefined) {
    answers.series = async (_request, reply) => {
      sendJson(reply, series());
    };
  }
  const endpoints = Object.keys(answers);

  const notFound = (request: FastifyRequest): RegistryError =>
    new RegistryError('UNSUPPORTED', `no management API endpoint at ${pathOf(request.url).slice(0, 200)}; there are ${endpoints.map((name) => `${MANAGEMENT_PREFIX}/${name}`).join(', ')}`, undefined, { status: 404 });

  await server.register(async (scope) => {
    // Nothing here reads a body: none is parsed (or buffered) for the answer that refuses it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    scope.setErrorHandler((err, request, reply) => writeError(err, request, reply));
    for (const name of endpoints) {
      const answer = answers[name] as Answer;
      // One route per endpoint, so that logs and metrics name it (route="/api/v1/summary").
      scope.get(`${MANAGEMENT_PREFIX}/${name}`, async (request, reply) => {
        await auth.admit(request);
        await answer(request, reply);
      });
    }
    // Everything else under the prefix: another method on an endpoint (405), or no endpoint (404).
    const other = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const name = pathOf(request.url).slice(MANAGEMENT_PREFIX.length + 1);
      const answer = Object.hasOwn(answers, name) ? answers[name] : undefined;
      if (answer === undefined) throw notFound(request);
      await auth.admit(request);
      if (!READ_ONLY.has(request.method)) {
        throw new RegistryError('UNSUPPORTED', `${request.method} is not allowed here; the management API is read-only (GET, HEAD)`, undefined, { status: 405, headers: { allow: 'GET, HEAD' } });
      }
      await answer(request, reply);
    };
    scope.all(MANAGEMENT_PREFIX, other);
    scope.all(`${MANAGEMENT_PREFIX}/*`, other);
  });
  return { replicaId: heartbeat.id };
}
