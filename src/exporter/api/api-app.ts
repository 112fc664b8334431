import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { expositionFor } from '../../observability/metrics/exposition.js';

/**
 * The exporter's HTTP side: GET /metrics answers the last collection's figures at once, in the
 * Prometheus text format or OpenMetrics when the scraper asks for it; it never waits on the
 * registry nor starts a collection. `withPorthole` says whether porthole's gauges are rendered.
 */
export function buildApiExporterApp(registry: Registry, portholeRegistry: Registry, withPorthole: () => boolean): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (request, reply) => {
    const rendered = withPorthole() ? Registry.merge([registry, portholeRegistry]) : registry;
    const { contentType, text } = await expositionFor(rendered, request.headers.accept);
    return reply.header('content-type', contentType).send(text);
  });
  app.get('/livez', async () => ({ status: 'ok' }));
  return app;
}
