import { createServer, type Server } from 'node:http';
import { Registry } from 'prom-client';
import { expositionFor } from '../../observability/metrics/exposition.js';

/**
 * The exporter's HTTP side: GET /metrics answers the last collection's figures at once, in the
 * Prometheus text format or OpenMetrics when the scraper asks for it; it never waits on the
 * registry nor starts a collection. `withPorthole` says whether porthole's gauges are rendered.
 * Node's own server, not Fastify: two fixed routes do not need a framework, and the exporter's
 * resident memory is part of what it promises (under 150 MB with 10,000 tags).
 */
export function buildApiExporterServer(registry: Registry, portholeRegistry: Registry, withPorthole: () => boolean): Server {
  return createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path === '/livez') {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(request.method === 'HEAD' ? undefined : '{"status":"ok"}');
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    const rendered = withPorthole() ? Registry.merge([registry, portholeRegistry]) : registry;
    expositionFor(rendered, request.headers.accept).then(
      ({ contentType, text }) => {
        response.writeHead(200, { 'content-type': contentType }).end(request.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics could not be rendered: ${(err as Error).message}\n`);
      },
    );
  });
}
