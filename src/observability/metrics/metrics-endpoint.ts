import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteShorthandOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { durationMs } from '../../config/durations.js';
import type { MetricsConfig } from '../../config/schema.js';
import type { PortholeLogger } from '../logger.js';
import { expositionFor } from './exposition.js';
import type { MetricsRecorder } from './recorder.js';

export interface MetricsEndpoint {
  /** The separate listener of `extensions.metrics.port`, when configured; the caller listens and closes. */
  listener?: FastifyInstance;
  /** Stops the minimal-mode idle check. */
  stop(): void;
}

/**
 * Who may read the metrics (extensions.metrics.auth), as an onRequest hook that answers a refusal
 * itself; absent: anyone may. Given by the composition root, so that this module knows nothing of
 * auth.
 */
export type MetricsGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** OpenMetrics (with exemplars) when the scrape asks for it first, else Prometheus text 0.0.4. */
async function answerScrape(registry: Registry, everyMetric: Record<string, string>, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { contentType, text } = await expositionFor(registry, request.headers.accept, everyMetric);
  // The answer depends on Accept, which a cache between Prometheus and porthole must know.
  await reply.header('content-type', contentType).header('vary', 'Accept').send(text);
}

/**
 * Full mode: Prometheus text at the configured path, on the main listener or on its own port, in
 * OpenMetrics when the scrape asks for it (see exposition.ts).
 * Minimal mode: a JSON snapshot (prom-client's own JSON form, which porthole-exporter turns back
 * into exposition format) at the same path; every fetch of it switches collection on, and a
 * periodic check switches it off once nothing has fetched it for `minimal.idleTimeout`.
 */
export function installMetricsEndpoint(
  app: FastifyInstance,
  settings: MetricsConfig,
  registry: Registry,
  /** Labels the registry adds to every metric (Telemetry.everyMetric). */
  everyMetric: Record<string, string>,
  recorder: MetricsRecorder,
  log: PortholeLogger,
  guard?: MetricsGuard,
): MetricsEndpoint {
  const path = settings.prometheus.path;
  // The same guard in every mode and on either listener (the HEAD route Fastify adds shares it).
  const options: RouteShorthandOptions = guard ? { onRequest: guard } : {};
  if (settings.enable) {
    if (settings.port === null) {
      app.get(path, options, async (request, reply) => answerScrape(registry, everyMetric, request, reply));
      return { stop() {} };
    }
    const listener = Fastify({ logger: false });
    listener.get(path, options, async (request, reply) => answerScrape(registry, everyMetric, request, reply));
    return { listener, stop() {} };
  }

  let lastScrape = 0;
  app.get(path, options, async (_request, reply) => {
    // Only a scrape that was let in counts: a refused one neither switches collection on nor keeps it on.
    lastScrape = Date.now();
    if (!recorder.collecting) {
      recorder.setCollecting(true);
      log.info('metrics collection enabled by a scrape');
    }
    const snapshot = { collecting: true, metrics: await registry.getMetricsAsJSON() };
    await reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(snapshot));
  });
  const idleMs = durationMs(settings.minimal.idleTimeout);
  const check = setInterval(() => {
    if (recorder.collecting && Date.now() - lastScrape > idleMs) {
      recorder.setCollecting(false);
      log.info({ idleMs }, 'metrics collection disabled: no scrape within the idle timeout');
    }
  }, durationMs(settings.minimal.checkInterval));
  check.unref();
  return { stop: () => clearInterval(check) };
}
