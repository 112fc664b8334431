import type { FastifyInstance } from 'fastify';
import '../../http/request-context.js';
import { requestBytes, responseBytes, routeLabel } from '../access-log.js';
import { onRequestDone } from '../request-done.js';
import type { MetricsRecorder, RequestKind } from './recorder.js';
import type { Tracing } from '../tracing/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The kind this request was counted in flight as, if it was (so that it is uncounted exactly once). */
    countedInFlight?: RequestKind;
  }
}

/**
 * HTTP and registry request metrics, from root hooks so every request is seen. What counts as a
 * pull: a successful GET (200/206) of a manifest or blob; HEAD requests only check existence.
 */
export function httpMetrics(app: FastifyInstance, recorder: MetricsRecorder, tracing: Pick<Tracing, 'idsOf'>): void {
  // Callback hooks, not async ones, here and in request-done.ts: two promises fewer per request
  // each, which is CPU saved on every request (and more so once tracing's context tracking is on).
  app.addHook('onRequest', (request, _reply, done) => {
    request.countedInFlight = recorder.requestStarted(request.method);
    done();
  });
  // Not onResponse: a request whose client hung up is done too, and must be counted.
  onRequestDone(app, (request, reply) => {
    const status = reply.statusCode;
    const bytesOut = responseBytes(request, reply);
    // Only a sampled request's trace: an exemplar must lead to a trace the backend has.
    const exemplar = tracing.idsOf(request);
    const observation = {
      method: request.method,
      route: routeLabel(request),
      status,
      seconds: reply.elapsedTime / 1000,
      bytesIn: requestBytes(request),
      bytesOut,
      ...(request.errorCode === undefined ? {} : { errorCode: request.errorCode }),
      ...(request.user === undefined ? {} : { user: request.user }),
      ...(exemplar === undefined ? {} : { exemplar }),
    };
    recorder.requestFinished(request.countedInFlight, observation);
    const kind = request.apiRoute?.kind;
    const repo = request.repository;
    if (repo === undefined) return;
    if (request.method === 'GET' && (status === 200 || status === 206) && (kind === 'manifest' || kind === 'blob')) {
      recorder.pulled(kind, bytesOut, repo);
      const provenance = request.pullProvenance;
      if (provenance) recorder.proxyPulled(provenance.namespace, kind, provenance.source);
    } else if (request.method === 'PUT' && status === 201 && kind === 'manifest') {
      recorder.pushedManifest(repo);
    }
  });
}
