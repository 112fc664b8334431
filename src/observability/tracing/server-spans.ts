import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span, type SpanOptions, type TextMapPropagator } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requestAction } from '../../http/request-action.js';
import '../../http/request-context.js';
import { pathOf } from '../../http/request-url.js';
import { answerDelivered } from '../../runtime/body-delivery.js';
import { requestBytes, responseBytes, routeLabel } from '../access-log.js';
import { onRequestDone } from '../request-done.js';
import { requestTarget } from '../request-target.js';
import { RecordedSpan } from './recorder/recorded-span.js';
import type { SpanRecorder } from './recorder/span-recorder.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's server span (serverSpans); null when it has none (a path never traced, or a
     * new trace that is not sampled); undefined while its onRequest hook has not run.
     */
    traceSpan?: Span | null;
  }
}

/** The options of a server span that starts as its request arrives (one object for all of them). */
const SERVER_SPAN: SpanOptions = { kind: SpanKind.SERVER };

/** HTTP semantic-convention attributes that the stable constants do not name yet. */
const ATTR_HTTP_REQUEST_BODY_SIZE = 'http.request.body.size';
const ATTR_HTTP_RESPONSE_BODY_SIZE = 'http.response.body.size';

/** What a request says of itself: set with the rest when it is done (one call into the span, not two). */
function requestAttributes(request: FastifyRequest): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {
    [ATTR_HTTP_REQUEST_METHOD]: request.method,
    [ATTR_URL_PATH]: pathOf(request.url),
    [ATTR_URL_SCHEME]: request.protocol,
    [ATTR_CLIENT_ADDRESS]: request.ip,
    [ATTR_NETWORK_PROTOCOL_VERSION]: request.raw.httpVersion,
  };
  const userAgent = request.headers['user-agent'];
  if (userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
  return attributes;
}

/** Everything a finished request's span says, from what porthole learnt while handling it. */
function finishedAttributes(request: FastifyRequest, reply: FastifyReply): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = requestAttributes(request);
  attributes[ATTR_HTTP_ROUTE] = routeLabel(request);
  attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = reply.statusCode;
  attributes[ATTR_HTTP_REQUEST_BODY_SIZE] = requestBytes(request);
  attributes[ATTR_HTTP_RESPONSE_BODY_SIZE] = responseBytes(request, reply);
  if (request.apiRoute) attributes['porthole.action'] = requestAction(request.method, request.apiRoute.kind);
  const target = requestTarget(request, reply);
  if (target.repo !== undefined) attributes['porthole.repo'] = target.repo;
  if (target.reference !== undefined) attributes['porthole.reference'] = target.reference;
  if (target.digest !== undefined) attributes['porthole.digest'] = target.digest;
  if (target.uploadId !== undefined) attributes['porthole.upload_id'] = target.uploadId;
  if (request.errorCode !== undefined) attributes['porthole.error_code'] = request.errorCode;
  if (!answerDelivered(reply.raw)) attributes['porthole.aborted'] = true;
  return attributes;
}

/** Span names by method and route: the same few dozen for every request, made once each. */
const spanNames = new Map<string, Map<string, string>>();

function spanName(method: string, route: string): string {
  let byRoute = spanNames.get(method);
  if (byRoute === undefined) {
    byRoute = new Map();
    spanNames.set(method, byRoute);
  }
  let name = byRoute.get(route);
  if (name === undefined) {
    name = `${method} ${route}`;
    // Routes are templates (or the fixed label of an unmatched path), so the names are few; a
    // cap keeps a method name a client made up from growing the map.
    if (byRoute.size < 256 && spanNames.size < 64) byRoute.set(route, name);
  }
  return name;
}

/**
 * One server span per request, named `METHOD route-template` (the route is only known once the
 * API has matched the path, so the name is set when the request is done). An incoming W3C
 * `traceparent` makes it a child of the client's span (a malformed one is ignored: a new trace
 * starts); a 5xx answer is an error, a 4xx only carries its OCI error code.
 */
export function serverSpans(app: FastifyInstance, tracer: SpanRecorder, propagator: TextMapPropagator, untracedPaths: ReadonlySet<string>, samplingProb: number): void {
  const spanOf = (request: FastifyRequest, options: SpanOptions): Span | undefined => {
    const newTrace = request.headers.traceparent === undefined;
    // At samplingProb 0 a new trace is never recorded: not even its id is drawn.
    if (newTrace && samplingProb === 0) return undefined;
    // Health probes and metrics scrapes: a trace every few seconds that nobody looks for.
    if (untracedPaths.has(pathOf(request.url))) return undefined;
    // The sampler decides before anything is made: a new trace it does not take gets no span.
    if (newTrace) return tracer.startRootSpanIfSampled(request.method, options);
    return tracer.startSpan(request.method, options, propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter));
  };
  const start = (request: FastifyRequest, options: SpanOptions): Span | null => {
    request.traceSpan = spanOf(request, options) ?? null;
    return request.traceSpan;
  };
  // A callback hook, not an async one: one promise fewer per request, traced or not.
  app.addHook('onRequest', (request, _reply, done) => {
    start(request, SERVER_SPAN);
    done();
  });
  onRequestDone(app, (request, reply) => {
    // A request Fastify refused before any hook ran (a malformed URL) gets its span now, dated back to its arrival.
    const span = request.traceSpan === undefined ? start(request, { kind: SpanKind.SERVER, startTime: Date.now() - reply.elapsedTime }) : request.traceSpan;
    if (!span) return;
    if (!span.isRecording()) return span.end();
    const attributes = finishedAttributes(request, reply);
    span.updateName(spanName(request.method, attributes[ATTR_HTTP_ROUTE] as string));
    if (span instanceof RecordedSpan) span.takeAttributes(attributes);
    else span.setAttributes(attributes);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: request.errorCode ?? `HTTP ${reply.statusCode}` });
    span.end();
  });
}
