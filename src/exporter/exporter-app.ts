import Fastify, { type FastifyInstance } from 'fastify';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { PortholeLogger } from '../observability/logger.js';
import type { ExporterConfig } from './config.js';
import { SnapshotClient, SnapshotError, type Snapshot, type SnapshotFailure } from './snapshot-client.js';

/** The exporter's own metrics; porthole's come from the snapshot, under their full-mode names. */
function exporterMetrics(registry: Registry) {
  const registers = [registry];
  return {
    up: new Gauge({ name: 'porthole_up', help: '1 when the last scrape could read porthole, 0 when it could not.', registers }),
    scrapeDuration: new Gauge({
      name: 'porthole_exporter_scrape_duration_seconds',
      help: 'How long the last fetch of porthole\'s snapshot took.',
      registers,
    }),
    scrapeErrors: new Counter({
      name: 'porthole_exporter_scrape_errors_total',
      help: 'Scrapes that could not read porthole, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

/**
 * Rebuilds porthole's metrics from the snapshot with prom-client's own aggregation (its cluster
 * mechanism), so types, histogram buckets and labels come out exactly as in full mode and no
 * exposition format is written by hand. With a single source every aggregator is the identity:
 * 'first' is set on all so that none (such as 'omit') can drop a metric.
 */
function replay(snapshot: Snapshot): Registry {
  return AggregatorRegistry.aggregate([snapshot.metrics.map((metric) => ({ ...metric, aggregator: 'first' }))]);
}

/**
 * On each scrape: fetch porthole's snapshot (which also keeps porthole's collection switched on)
 * and answer it in exposition format with porthole_up 1; when porthole cannot be read, answer
 * porthole_up 0 and keep running.
 */
export function buildExporterApp(config: ExporterConfig, log: PortholeLogger): { app: FastifyInstance; client: SnapshotClient } {
  const client = new SnapshotClient(config.Server);
  const own = new Registry();
  const metrics = exporterMetrics(own);
  // 'up', or why porthole could not be read: logged when it changes (once, not on every scrape;
  // zot #3263), so that a change of reason (unreachable, then refused) is told too.
  let state: 'up' | SnapshotFailure | undefined;
  const app = Fastify({ logger: false });

  app.get(config.Exporter.metrics.path, async (_request, reply) => {
    const started = performance.now();
    let registries = [own];
    try {
      const snapshot = await client.fetch();
      metrics.up.set(1);
      registries = [replay(snapshot), own];
      if (state !== 'up') log.info({ target: client.target }, 'porthole is readable');
      state = 'up';
    } catch (err) {
      const reason = err instanceof SnapshotError ? err.reason : 'invalid';
      metrics.up.set(0);
      metrics.scrapeErrors.inc({ reason });
      // The message says why (never with a secret: the exporter's own credentials are not in it).
      if (state !== reason) log.warn({ target: client.target, reason, err }, 'porthole cannot be read; answering porthole_up 0');
      else log.debug({ target: client.target, reason }, 'porthole still cannot be read');
      state = reason;
    }
    metrics.scrapeDuration.set((performance.now() - started) / 1000);
    const merged = Registry.merge(registries);
    return reply.header('content-type', merged.contentType).send(await merged.metrics());
  });
  app.get('/livez', async () => ({ status: 'ok' }));
  return { app, client };
}
