import { connect } from 'node:net';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { durationMs } from '../../config/durations.js';
import type { TracingConfig } from '../../config/tracing-schema.js';
import type { PortholeLogger } from '../logger.js';
import { redactedUrl } from '../redact.js';
import { bindStore } from './bound-store.js';
import { serverSpans } from './server-spans.js';
import { SyncContextManager } from './sync-context.js';
import { isSampled, OtelScope, runInSpan, startSpanAt, type ScopeParts } from './otel-scope.js';
import { OtlpHttpSender } from './otlp/http-sender.js';
import { collectorTransport } from './otlp/transport-env.js';
import { parentBasedRatio } from './recorder/sampling.js';
import { SpanRecorder } from './recorder/span-recorder.js';
import { EncodedSpanQueue, EXPORT_BATCH_SPANS, EXPORT_DELAY_MS, type SpanCounts } from './span-export.js';
import { tracedStore } from './traced-store.js';
import { notRecorded, type TraceIds, type TraceScope, type Tracing } from './tracing.js';

export interface OtelTracingDeps {
  log: PortholeLogger;
  counts: SpanCounts;
  /** porthole's version, as service.version. */
  version: string;
  /** Which porthole this is, as service.instance.id: the replica's name, or a CLI run's host and process. */
  instanceId: string;
}

/** How long the start-up check of the collector waits for a connection. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Says once, at start-up, when nothing listens at the collector's address: tracing stays on (the
 * collector may come later) and requests are never held up by it.
 */
function probeCollector(endpoint: URL, queue: EncodedSpanQueue): void {
  const port = Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80));
  const socket = connect({ host: endpoint.hostname, port, timeout: PROBE_TIMEOUT_MS });
  socket.once('connect', () => socket.destroy());
  socket.once('timeout', () => {
    socket.destroy();
    queue.markDown(`no connection to ${endpoint.host} within ${PROBE_TIMEOUT_MS} ms`);
  });
  socket.once('error', (err) => queue.markDown(err.message));
}

/**
 * Tracing with the OpenTelemetry SDK: parent-based sampling at `samplingProb`, spans batched and
 * exported over OTLP/HTTP, W3C trace context in and out. Loaded (with every OpenTelemetry module)
 * only when tracing is on; see tracing.ts for what each method promises.
 */
export function createOtelTracing(config: TracingConfig, deps: OtelTracingDeps): Tracing {
  // One context manager per process, whatever the number of apps in it: a second registration is
  // refused by the API and the first one serves all. It carries the current span through
  // synchronous calls only; work after an await holds its TraceScope (tracing.ts).
  context.setGlobalContextManager(new SyncContextManager());
  const propagator = new W3CTraceContextPropagator();
  const log = deps.log;
  const exportTimeoutMs = durationMs(config.exportTimeout);
  const queue = new EncodedSpanQueue({
    sender: new OtlpHttpSender(new URL(config.endpoint), config.headers, exportTimeoutMs, `porthole/${deps.version}`, collectorTransport(process.env)),
    counts: deps.counts,
    log,
    endpoint: redactedUrl(config.endpoint),
    maxQueueSize: config.maxQueueSize,
    maxBatchSize: Math.min(EXPORT_BATCH_SPANS, config.maxQueueSize),
    delayMs: EXPORT_DELAY_MS,
  });
  const tracer = new SpanRecorder({
    resource: resourceFromAttributes({
      ...config.attributes,
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: deps.version,
      [ATTR_SERVICE_INSTANCE_ID]: deps.instanceId,
    }),
    scope: { name: 'porthole', version: deps.version },
    sampled: parentBasedRatio(config.samplingProb),
    sink: queue,
  });
  probeCollector(new URL(config.endpoint), queue);
  log.info({ endpoint: redactedUrl(config.endpoint), samplingProb: config.samplingProb, serviceName: config.serviceName }, 'tracing enabled');

  const parts: ScopeParts = { tracer, propagator };
  const here = (): TraceScope => new OtelScope(context.active(), parts);

  const tracing: Tracing = {
    enabled: true,
    instrumentServer(app, untracedPaths) {
      serverSpans(app, tracer, propagator, untracedPaths, config.samplingProb);
    },
    requestScope(request) {
      const span = request.traceSpan;
      // A sampled request's span is carried through its work, for its children; so is a caller's
      // trace that is not sampled here, so that it goes on, unsampled, to the upstreams. A new
      // trace that is not sampled has no span at all (serverSpans).
      if (!span || (!span.isRecording() && request.headers.traceparent === undefined)) return undefined;
      return new OtelScope(trace.setSpan(ROOT_CONTEXT, span), parts);
    },
    idsOf(request): TraceIds | undefined {
      const span = request.traceSpan;
      if (!span || !isSampled(span)) return undefined;
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },
    get recording() {
      return trace.getSpan(context.active())?.isRecording() === true;
    },
    here,
    run: (work) => work(),
    startSpan(name, attributes = {}, options = {}) {
      if (options.root) return startSpanAt(ROOT_CONTEXT, parts, name, attributes, options.links);
      return tracing.recording ? startSpanAt(context.active(), parts, name, attributes, options.links) : here().startSpan(name, attributes, options);
    },
    // The traced store's path, once per storage operation, so no scope is made for it (nothing
    // inside storage goes upstream, so an unrecorded one has no context to hand on).
    span(name, attributes, work, links) {
      if (!tracing.recording) return work(notRecorded);
      return runInSpan(startSpanAt(context.active(), parts, name, attributes, links), work);
    },
    pastSpan: (name, attributes, seconds) => here().pastSpan(name, attributes, seconds),
    outgoingHeaders: () => here().outgoingHeaders(),
    bindStore,
    traceStore: (store) => tracedStore(store, tracing),
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const flushed = queue.shutdown().then(
        () => 'flushed' as const,
        (err: unknown) => err,
      );
      const outcome = await Promise.race([flushed, gaveUp]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        log.warn({ timeoutMs, pending: queue.pending }, 'tracing: spans still queued at shutdown were not sent');
        queue.abort();
      }
      else if (outcome !== 'flushed') log.warn({ err: outcome }, 'tracing: spans still queued at shutdown were not sent');
    },
  };
  return tracing;
}
