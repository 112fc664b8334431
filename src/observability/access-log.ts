import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS } from '../registry/request-context.js';
import { pathOf } from '../registry/routes.js';
import { redactedQuery } from './redact.js';
import { requestTarget } from './request-target.js';

/** Paths polled by machines: logged at debug so that info stays readable. */
const QUIET_PATHS = new Set(['/livez', '/readyz', '/startupz', '/metrics']);

/** Body bytes of the answer: what Content-Length declared (none for HEAD, 204 and 304). */
function responseBytes(request: FastifyRequest, reply: FastifyReply): number {
  if (request.method === 'HEAD' || reply.statusCode === 204 || reply.statusCode === 304) return 0;
  return Number(reply.getHeader('content-length') ?? 0);
}

export function accessLine(request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  const line: Record<string, unknown> = {
    method: request.method,
    route: request.apiRoute?.template ?? request.routeOptions.url ?? 'unrouted',
    path: pathOf(request.url),
    status: reply.statusCode,
    latency: reply.elapsedTime / 1000,
    bytesIn: request.bytesIn ?? Number(request.headers['content-length'] ?? 0),
    bytesOut: responseBytes(request, reply),
    clientIP: request.ip,
    userAgent: request.headers['user-agent'],
    user: request.user ?? ANONYMOUS,
  };
  const query = redactedQuery(request.url);
  if (query !== undefined) line.query = query;
  Object.assign(line, requestTarget(request, reply));
  if (request.errorCode !== undefined) line.error = request.errorCode;
  // The connection closed before the whole answer was written (client gone, or cut off).
  if (!reply.raw.writableFinished) line.aborted = true;
  return line;
}

/** One access line per request, written when the answer is complete (or abandoned). */
export function accessLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const line = accessLine(request, reply);
    if (QUIET_PATHS.has(pathOf(request.url))) request.log.debug(line, 'request served');
    else request.log.info(line, 'request served');
  });
}
