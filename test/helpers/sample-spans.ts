/**
 * Real spans covering what OTLP can carry: two resources, three scopes, every span kind, parent
 * and child, events, links, statuses, tracestates, and every kind of attribute value with the
 * edges of int64 and of JS numbers. Made by the OpenTelemetry SDK or by porthole's own tracer
 * (recorder/), the same calls for both. Shared by the tests that check OTLP encoders and decoders
 * against each other, and porthole's tracer against the SDK.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Context, type Link, type Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { parentBasedRatio } from '../../src/observability/tracing/recorder/sampling.js';
import { SpanRecorder } from '../../src/observability/tracing/recorder/span-recorder.js';

/** Where the sample spans are made: tracers for a resource and a scope, and the spans they ended, in order. */
export interface TracerSource {
  tracer(resource: Resource, scope: { name: string; version?: string; schemaUrl?: string }): Tracer;
  finished(): ReadableSpan[];
}

/** The OpenTelemetry SDK's tracers, sampling everything, their spans kept in memory. */
export function sdkTracers(): TracerSource {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const providers = new Map<Resource, BasicTracerProvider>();
  return {
    tracer(resource, scope) {
      let provider = providers.get(resource);
      if (provider === undefined) {
        provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
        providers.set(resource, provider);
      }
      return provider.getTracer(scope.name, scope.version, scope.schemaUrl === undefined ? {} : { schemaUrl: scope.schemaUrl });
    },
    finished: () => exporter.getFinishedSpans(),
  };
}

/** porthole's own tracer (as porthole runs it, at samplingProb 1), its spans kept in memory. */
export function recorderTracers(): TracerSource {
  const ended: ReadableSpan[] = [];
  return {
    tracer: (resource, scope) => new SpanRecorder({ resource, scope, sampled: parentBasedRatio(1), sink: { onEnd: (span) => ended.push(span) } }),
    finished: () => ended,
  };
}

export const linkedTraceId = '0af7651916cd43dd8448eb211c80319c';
export const linkedSpanId = 'b7ad6b7169203331';

export const remoteTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
export const remoteSpanId = '00f067aa0ba902b7';
export const serverStart: [number, number] = [1_700_000_000, 123_456_789];

/** A context whose span is a remote caller's, as an incoming traceparent/tracestate makes it. */
export function remoteParent(traceState: TraceState): Context {
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: remoteTraceId, spanId: remoteSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState });
}

/** Every kind of attribute value the SDK takes, with the edges of int64 and of JS numbers. */
export const serverAttributes = {
  'http.request.method': 'GET',
  'http.response.status_code': 200,
  'porthole.negative': -42,
  'porthole.wide': 2 ** 53 + 2,
  'porthole.int64.min': -(2 ** 63),
  // One past int64: both serializers write it as a double.
  'porthole.two.pow.63': 2 ** 63,
  'porthole.ratio': 0.5,
  'porthole.denormal': 5e-324,
  'porthole.cached': false,
  'porthole.tags': ['latest', 'v1'],
  'porthole.sizes': [1, 2 ** 60, -3],
  'porthole.answers': [true, false],
  'porthole.ratios': [0.25, 1.5],
  'porthole.sparse': ['a', null, 'b'],
  'porthole.none': [],
  'porthole.note': 'café ✓',
  'porthole.clé': '🐳 naïve — 東京',
  'porthole.bom': '\uFEFFlead',
  'porthole.empty': '',
  // Long enough that its length takes three varint bytes.
  'porthole.long': 'x'.repeat(70_000),
};

/** Spans of two resources, three scopes, every span kind, parent and child, events, links, statuses, tracestates. */
export function recordSpans(source: TracerSource = sdkTracers()): ReadableSpan[] {
  const registry = resourceFromAttributes({ 'service.name': 'porthole', 'service.version': '0.1.0', 'process.pid': 4242, 'host.name': 'bâtiment-7' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  const worker = resourceFromAttributes({ 'service.name': 'porthole-worker' });
  const tracer = source.tracer(registry, { name: 'porthole', version: '0.1.0' });
  const storage = source.tracer(registry, { name: 'porthole.storage', schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });

  const server = tracer.startSpan(
    'GET /v2/:name/manifests/:reference',
    { kind: SpanKind.SERVER, startTime: serverStart, attributes: serverAttributes },
    remoteParent(new TraceState('porthole-test=continued,vendor=a1')),
  );
  const linked: Link = {
    context: { traceId: linkedTraceId, spanId: linkedSpanId, traceFlags: TraceFlags.NONE, isRemote: true, traceState: new TraceState('linked=yes') },
    attributes: { 'porthole.joined': true, 'porthole.attempt': 2 },
  };
  const client = tracer.startSpan('proxy.fetchManifest', { kind: SpanKind.CLIENT, links: [linked, { context: server.spanContext() }] }, trace.setSpan(ROOT_CONTEXT, server));
  client.recordException(new Error('upstream said 503 — réessayer ✗'));
  client.addEvent('retry', { 'porthole.attempt': 2, 'porthole.delay_ms': 12.5 });
  client.addEvent('gave up');
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 503: café ✓' });
  const read = storage.startSpan('storage.getBlob', { kind: SpanKind.INTERNAL, attributes: { 'porthole.digest': 'sha256:abc' } }, trace.setSpan(ROOT_CONTEXT, client));
  read.end();
  client.end();
  server.end([serverStart[0], serverStart[1] + 250_000_000]);

  // A tracestate header that held no valid entry: an empty TraceState, which the JSON serializer writes as "".
  tracer.startSpan('GET /v2/', { kind: SpanKind.SERVER }, remoteParent(new TraceState())).end();
  const publish = tracer.startSpan('events.publish', { kind: SpanKind.PRODUCER }, ROOT_CONTEXT);
  publish.setStatus({ code: SpanStatusCode.OK });
  publish.end();
  source.tracer(worker, { name: 'porthole.jobs', version: '2.0.0' }).startSpan('gc.run', { kind: SpanKind.CONSUMER, attributes: { 'porthole.freed': 123_456_789_012 } }, ROOT_CONTEXT).end();
  // Enough spans that the messages holding them need multi-byte lengths.
  for (let index = 0; index < 300; index++) {
    tracer.startSpan(`batch.${index}`, { attributes: { 'porthole.index': index, 'porthole.path': `/v2/library/ubuntu/blobs/sha256:${index.toString(16).padStart(64, '0')}` } }, ROOT_CONTEXT).end();
  }
  return source.finished();
}
