import { connect } from 'node:net';
import { hostname } from 'node:os';
import { context, defaultTextMapSetter, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { FastifyRequest } from 'fastify';
import { durationMs } from '../../config/durations.js';
import type { TracingConfig } from '../../config/tracing-schema.js';
import type { PortholeLogger } from '../logger.js';
import { redactedUrl } from '../redact.js';
import { serverSpans } from './server-spans.js';
import { BoundedSpanQueue, CountingExporter, type SpanCounts } from './span-export.js';
import { tracedStore } from './traced-store.js';
import type { SpanAttributes, SpanLink, StartedSpan, TraceIds, Tracing } from './tracing.js';

export interface OtelTracingDeps {
  log: PortholeLogger;
  counts: SpanCounts;
  /** porthole's version, as service.version. */
  version: string;
}

/** How long the start-up check of the collector waits for a connection. */
const PROBE_TIMEOUT_MS = 2_000;

function definedOnly(attributes: SpanAttributes): Record<string, string | number | boolean> {
  const defined: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) defined[key] = value;
  return defined;
}

function isSampled(span: Span): boolean {
  return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}

function failureMessage(failure: unknown): string {
  return failure instanceof Error ? failure.message : String(failure);
}

/** The attribute every batch job's root span carries (jobs/runner.ts). */
const JOB_ATTRIBUTE = 'porthole.job';

/**
 * Requests are sampled at samplingProb; a batch job's run (rare, long, and looked for when it
 * failed) is always recorded. Everything else is the parent-based ratio sampler's.
 */
function requestsSampledJobsAlways(samplingProb: number): Sampler {
  const requests = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplingProb) });
  return {
    shouldSample(context, traceId, spanName, spanKind, attributes, links) {
      if (attributes[JOB_ATTRIBUTE] !== undefined && trace.getSpan(context) === undefined) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      return requests.shouldSample(context, traceId, spanName, spanKind, attributes, links);
    },
    toString: () => `JobsAlwaysOn{${requests.toString()}}`,
  };
}

/** One started span, ended once. */
function startedSpan(span: Span, parent: Context): StartedSpan {
  let ended = false;
  const spanContext = span.spanContext();
  return {
    run: (work) => context.with(trace.setSpan(parent, span), work),
    setAttributes: (attributes) => span.setAttributes(definedOnly(attributes)),
    end(failure?: unknown) {
      if (ended) return;
      ended = true;
      if (failure !== undefined) {
        span.recordException(failure instanceof Error ? failure : new Error(failureMessage(failure)));
        span.setStatus({ code: SpanStatusCode.ERROR, message: failureMessage(failure) });
      }
      span.end();
    },
    link: isSampled(span) ? { traceId: spanContext.traceId, spanId: spanContext.spanId } : undefined,
  };
}

const notRecorded: StartedSpan = { run: (work) => work(), setAttributes: () => undefined, end: () => undefined, link: undefined };

/**
 * Says once, at start-up, when nothing listens at the collector's address: tracing stays on (the
 * collector may come later) and requests are never held up by it.
 */
function probeCollector(endpoint: URL, exporter: CountingExporter): void {
  const port = Number(endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80));
  const socket = connect({ host: endpoint.hostname, port, timeout: PROBE_TIMEOUT_MS });
  socket.once('connect', () => socket.destroy());
  socket.once('timeout', () => {
    socket.destroy();
    exporter.markDown(`no connection to ${endpoint.host} within ${PROBE_TIMEOUT_MS} ms`);
  });
  socket.once('error', (err) => exporter.markDown(err.message));
}

/**
 * Tracing with the OpenTelemetry SDK: parent-based sampling at `samplingProb`, spans batched and
 * exported over OTLP/HTTP, W3C trace context in and out. Loaded (with every OpenTelemetry module)
 * only when tracing is on; see tracing.ts for what each method promises.
 */
export function createOtelTracing(config: TracingConfig, deps: OtelTracingDeps): Tracing {
  // One context manager per process, whatever the number of apps in it: a second registration is
  // refused by the API and the first one serves all (AsyncLocalStorage carries each request's span).
  // On Node 20 AsyncLocalStorage slows every promise once it is first entered, so it is entered
  // only for recorded (sampled) work: at samplingProb 0 it never is (see inRequest and startSpan).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const propagator = new W3CTraceContextPropagator();
  const log = deps.log;
  const exportTimeoutMs = durationMs(config.exportTimeout);
  const exporter = new CountingExporter(
    new OTLPTraceExporter({ url: config.endpoint, headers: { ...config.headers }, timeoutMillis: exportTimeoutMs }),
    deps.counts,
    log,
    redactedUrl(config.endpoint),
  );
  const batches = new BatchSpanProcessor(exporter, {
    maxQueueSize: config.maxQueueSize,
    maxExportBatchSize: Math.min(512, config.maxQueueSize),
    scheduledDelayMillis: 1_000,
    exportTimeoutMillis: exportTimeoutMs + 1_000,
  });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      ...config.attributes,
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: deps.version,
      [ATTR_SERVICE_INSTANCE_ID]: `${hostname()}:${process.pid}`,
    }),
    sampler: requestsSampledJobsAlways(config.samplingProb),
    spanProcessors: [new BoundedSpanQueue(batches, exporter, deps.counts, config.maxQueueSize)],
  });
  const tracer: Tracer = provider.getTracer('porthole', deps.version);
  const requestSpans = new WeakMap<FastifyRequest, Span>();
  probeCollector(new URL(config.endpoint), exporter);
  log.info({ endpoint: redactedUrl(config.endpoint), samplingProb: config.samplingProb, serviceName: config.serviceName }, 'tracing enabled');

  const tracing: Tracing = {
    enabled: true,
    instrumentServer(app, untracedPaths) {
      serverSpans(app, tracer, propagator, requestSpans, untracedPaths, config.samplingProb);
    },
    inRequest(request, work) {
      const span = requestSpans.get(request);
      // A sampled request's span is carried through its work, for its children; so is a caller's
      // trace that is not sampled here, so that it goes on, unsampled, to the upstreams. Without
      // either there is nothing to carry, and AsyncLocalStorage is left alone.
      const carried = span !== undefined && (span.isRecording() || request.headers.traceparent !== undefined);
      return carried ? context.with(trace.setSpan(ROOT_CONTEXT, span), work) : work();
    },
    idsOf(request): TraceIds | undefined {
      const span = requestSpans.get(request);
      if (!span || !isSampled(span)) return undefined;
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },
    recording: () => trace.getSpan(context.active())?.isRecording() === true,
    startSpan(name, attributes = {}, options = {}) {
      const parent = options.root ? ROOT_CONTEXT : context.active();
      // Storage and pull-through work outside any traced request or job is not traced on its own;
      // inside an unsampled one its children would not be either, so none is even made (the
      // current context, the parent's, still goes out in traceparent with its sampled flag off).
      if (!options.root && !trace.getSpan(parent)?.isRecording()) return notRecorded;
      const links = (options.links ?? []).map((link: SpanLink) => ({ context: { ...link, traceFlags: TraceFlags.SAMPLED } }));
      return startedSpan(tracer.startSpan(name, { attributes: definedOnly(attributes), links }, parent), parent);
    },
    span(name, attributes, work, links) {
      const span = tracing.startSpan(name, attributes, links ? { links } : {});
      // Nothing recorded (no sampled request around): the work as it is, without a wrapper.
      if (span === notRecorded) return work();
      return span.run(work).then(
        (result) => {
          span.end();
          return result;
        },
        (err: unknown) => {
          span.end(err);
          throw err;
        },
      );
    },
    pastSpan(name, attributes, seconds) {
      const parent = context.active();
      if (!trace.getSpan(parent)?.isRecording()) return;
      tracer.startSpan(name, { attributes: definedOnly(attributes), startTime: Date.now() - seconds * 1000 }, parent).end();
    },
    outgoingHeaders() {
      const headers: Record<string, string> = {};
      propagator.inject(context.active(), headers, defaultTextMapSetter);
      return headers;
    },
    traceStore: (store) => tracedStore(store, tracing),
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const flushed = provider.shutdown().then(
        () => 'flushed' as const,
        (err: unknown) => err,
      );
      const outcome = await Promise.race([flushed, gaveUp]);
      clearTimeout(timer);
      if (outcome === 'timeout') log.warn({ timeoutMs, pending: exporter.pending }, 'tracing: spans still queued at shutdown were not sent');
      else if (outcome !== 'flushed') log.warn({ err: outcome }, 'tracing: spans still queued at shutdown were not sent');
    },
  };
  return tracing;
}
