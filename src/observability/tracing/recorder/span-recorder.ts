import { context as contextApi, SpanKind, trace, TraceFlags, type Context, type Span, type SpanContext, type SpanOptions, type Tracer } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { RecordedSpan, type SpanOwner } from './recorded-span.js';
import type { SamplingDecision } from './sampling.js';
import { RandomIds } from './span-ids.js';

/** Where ended spans go: the export queue (span-export.ts). */
export interface EndedSpans {
  onEnd(span: RecordedSpan): void;
}

export interface SpanRecorderOptions {
  resource: Resource;
  scope: InstrumentationScope;
  sampled: SamplingDecision;
  sink: EndedSpans;
}

/**
 * porthole's OpenTelemetry tracer: the API's Tracer, making RecordedSpans for sampled spans and
 * the API's non-recording span (which only carries the trace on, to upstreams) for the rest.
 * It stands in for the SDK's tracer provider, written to make samplingProb 1 cheaper
 * (bench:tracing's floors show the two 1.3 to 3.5 µs a request apart); contexts, propagation and
 * the semantic conventions are still OpenTelemetry's own.
 */
export class SpanRecorder implements Tracer, SpanOwner {
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  private readonly ids = new RandomIds();
  private readonly sampled: SamplingDecision;
  private readonly sink: EndedSpans;

  constructor(options: SpanRecorderOptions) {
    this.resource = options.resource;
    this.instrumentationScope = options.scope;
    this.sampled = options.sampled;
    this.sink = options.sink;
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span {
    const found = options.root ? undefined : trace.getSpanContext(context);
    const parent = found !== undefined && trace.isSpanContextValid(found) ? found : undefined;
    const traceId = parent === undefined ? this.ids.traceId() : parent.traceId;
    const sampled = this.sampled(parent, traceId, options.attributes);
    const spanContext: SpanContext = { traceId, spanId: this.ids.spanId(), traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE };
    if (parent?.traceState !== undefined) spanContext.traceState = parent.traceState;
    if (!sampled) return trace.wrapSpanContext(spanContext);
    return this.recorded(name, options, spanContext, parent);
  }

  /**
   * The root span of a new trace when the sampler takes the trace, else nothing: not the
   * non-recording span startSpan would make, for a caller that has no use for one. A request
   * that starts a trace nobody records carries nothing on (otel-tracing.ts, requestScope), so
   * at samplingProb 0.1 nine requests in ten skip the span id, the span and its context: 1.8 µs
   * of a 20 µs manifest GET in a paired run (bench/RESULTS.md, fifth stop).
   */
  startRootSpanIfSampled(name: string, options: SpanOptions): Span | undefined {
    const traceId = this.ids.traceId();
    if (!this.sampled(undefined, traceId, options.attributes)) return undefined;
    return this.recorded(name, options, { traceId, spanId: this.ids.spanId(), traceFlags: TraceFlags.SAMPLED }, undefined);
  }

  private recorded(name: string, options: SpanOptions, spanContext: SpanContext, parent: SpanContext | undefined): RecordedSpan {
    return new RecordedSpan(this, {
      name,
      kind: options.kind ?? SpanKind.INTERNAL,
      context: spanContext,
      parent,
      startTime: options.startTime,
      attributes: options.attributes,
      links: options.links,
    });
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, context: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = rest.length > 1 ? (rest[0] as SpanOptions) : {};
    const parent = (rest.length > 2 ? (rest[1] as Context | undefined) : undefined) ?? contextApi.active();
    const span = this.startSpan(name, options, parent);
    return contextApi.with(trace.setSpan(parent, span), () => fn(span) as ReturnType<F>);
  }

  ended(span: RecordedSpan): void {
    this.sink.onEnd(span);
  }
}
