import type { FastifyRequest } from 'fastify';

// The parts of a raw request URL, as the API handlers, the logs and the metrics read them: below
// both the registry API and observability, so that neither depends on the other for them.

/** The path part of a raw request URL. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The query of a request, parsed. */
export function queryOf(request: FastifyRequest): URLSearchParams {
  const q = request.url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : request.url.slice(q + 1));
}
