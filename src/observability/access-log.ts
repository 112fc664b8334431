import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ANONYMOUS } from '../http/request-context.js';
import { answerDelivered } from '../runtime/body-delivery.js';
import { AccessLineWriter, fieldKey, type FieldSink } from './access-line-writer.js';
import { pathOf } from '../http/request-url.js';
import { redactedQuery } from './redact.js';
import { onRequestDone } from './request-done.js';
import { requestTarget } from './request-target.js';
import type { Tracing } from './tracing/tracing.js';

/** Health probes: with the metrics path, the paths machines poll every few seconds. */
const PROBE_PATHS = ['/livez', '/readyz', '/startupz'];

/** Paths polled by machines: logged at debug so that info stays readable, and never traced. */
export function polledPaths(metricsPath: string): ReadonlySet<string> {
  return new Set([...PROBE_PATHS, metricsPath]);
}

/** Body bytes of the request: those porthole read, else the declared length of a body it did not read. */
export function requestBytes(request: FastifyRequest): number {
  return request.bytesIn ?? Number(request.headers['content-length'] ?? 0);
}

/** Body bytes of the answer: what Content-Length declared (none for HEAD, 204 and 304). */
export function responseBytes(request: FastifyRequest, reply: FastifyReply): number {
  if (request.method === 'HEAD' || reply.statusCode === 204 || reply.statusCode === 304) return 0;
  return Number(reply.getHeader('content-length') ?? 0);
}

/** The route template of a request, bounded: unrouted paths all share one value. */
export function routeLabel(request: FastifyRequest): string {
  if (request.apiRoute) return request.apiRoute.template;
  // A request Fastify refused before routing has no route context to ask.
  return request.is404 || !request.routeOptions ? 'unrouted' : (request.routeOptions.url ?? 'unrouted');
}

/**
 * Seconds from arrival to the end of the answer, to the microsecond: the clock's nanoseconds
 * divided into seconds wrote 0.000010234999999738647 for 10.235 µs.
 */
export function latencySeconds(reply: FastifyReply): number {
  return Math.round(reply.elapsedTime * 1000) / 1e6;
}

/** The keys of an access line's fields, each made once (access-line-writer.ts). */
const KEY = {
  reqId: fieldKey('reqId'),
  method: fieldKey('method'),
  route: fieldKey('route'),
  path: fieldKey('path'),
  status: fieldKey('status'),
  latency: fieldKey('latency'),
  bytesIn: fieldKey('bytesIn'),
  bytesOut: fieldKey('bytesOut'),
  clientIP: fieldKey('clientIP'),
  userAgent: fieldKey('userAgent'),
  user: fieldKey('user'),
  query: fieldKey('query'),
  repo: fieldKey('repo'),
  reference: fieldKey('reference'),
  uploadId: fieldKey('uploadId'),
  digest: fieldKey('digest'),
  error: fieldKey('error'),
  traceId: fieldKey('traceId'),
  spanId: fieldKey('spanId'),
  aborted: fieldKey('aborted'),
} as const;

/** The fields of a request's access line, in their order, into `out`; `path` is pathOf(request.url), which the caller has. */
export function accessLine(request: FastifyRequest, reply: FastifyReply, path: string, tracing: Pick<Tracing, 'idsOf'>, out: FieldSink): void {
  // First, where the request's child logger would have put it (access lines are written
  // through the server's logger: see accessLog).
  // Made by genReqId (a UUID), accepted by node's parser (a known method), and a route template.
  out.plain(KEY.reqId, request.id);
  out.plain(KEY.method, request.method);
  out.plain(KEY.route, routeLabel(request));
  out.string(KEY.path, path);
  out.number(KEY.status, reply.statusCode);
  out.number(KEY.latency, latencySeconds(reply));
  out.number(KEY.bytesIn, requestBytes(request));
  out.number(KEY.bytesOut, responseBytes(request, reply));
  out.string(KEY.clientIP, request.ip);
  out.string(KEY.userAgent, request.headers['user-agent']);
  out.string(KEY.user, request.user ?? ANONYMOUS);
  out.string(KEY.query, redactedQuery(request.url));
  const target = requestTarget(request, reply);
  out.string(KEY.repo, target.repo);
  out.string(KEY.reference, target.reference);
  out.string(KEY.uploadId, target.uploadId);
  out.string(KEY.digest, target.digest);
  out.string(KEY.error, request.errorCode);
  // Only a sampled request's ids: an unsampled trace is found nowhere, so its id would lead nowhere.
  const ids = tracing.idsOf(request);
  if (ids) {
    out.string(KEY.traceId, ids.traceId);
    out.string(KEY.spanId, ids.spanId);
  }
  // The connection closed before the whole answer was written (client gone, or cut off).
  if (!answerDelivered(reply.raw)) out.boolean(KEY.aborted, true);
}

/**
 * One access line per request, written when the answer is complete (or abandoned). As the
 * server's logger writes it, with the request id among the fields: the same line as the
 * request's logger would write, without making it a pino child (request-logger.ts), nor running
 * pino's general serializer (access-line-writer.ts). Nothing is built for a line whose level is off.
 */
export function accessLog(app: FastifyInstance, metricsPath: string, tracing: Pick<Tracing, 'idsOf'>): void {
  const quietPaths = polledPaths(metricsPath);
  // porthole's server logger is pino's (app.ts), which can say whether a level is on.
  const log = app.log as Logger;
  const writer = new AccessLineWriter(log, 'request served');
  onRequestDone(app, (request, reply) => {
    const path = pathOf(request.url);
    const level = quietPaths.has(path) ? 'debug' : 'info';
    if (!log.isLevelEnabled(level)) return;
    writer.start(level);
    accessLine(request, reply, path, tracing, writer);
    writer.end();
  });
}
