import { context, defaultTextMapSetter, SpanStatusCode, trace, TraceFlags, type Context, type Span, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import { notRecorded, type SpanAttributes, type SpanLink, type StartedSpan, type TraceScope } from './tracing.js';

/** What every place in a trace starts its children with. */
export interface ScopeParts {
  tracer: Tracer;
  propagator: TextMapPropagator;
}

export function isSampled(span: Span): boolean {
  return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}

function failureMessage(failure: unknown): string {
  return failure instanceof Error ? failure.message : String(failure);
}

/** Links as the API's tracer takes them: to spans of sampled traces (unsampled ones are never linked to). */
function sdkLinks(links: SpanLink[] | undefined) {
  return links === undefined ? undefined : links.map((link) => ({ context: { ...link, traceFlags: TraceFlags.SAMPLED } }));
}

/**
 * A place in a trace: a context held explicitly, for work after an `await` (tracing.ts). Classes,
 * not closures: one is made per traced request and per span, at samplingProb 1 for every one.
 */
export class OtelScope implements TraceScope {
  readonly recording: boolean;
  /** In work that is not recorded no child is made: its place stays this one (see startSpan). */
  private unrecordedChild: StartedSpan | undefined;

  constructor(
    private readonly at: Context,
    private readonly parts: ScopeParts,
  ) {
    this.recording = trace.getSpan(at)?.isRecording() === true;
  }

  run<T>(work: () => T): T {
    return context.with(this.at, work);
  }

  startSpan(name: string, attributes: SpanAttributes = {}, options: { links?: SpanLink[] } = {}): StartedSpan {
    // Outside any traced request or job, or in an unsampled one, no child is even made; the
    // context still goes out in traceparent, with its sampled flag off.
    if (!this.recording) return (this.unrecordedChild ??= { ...notRecorded, run: (work) => this.run(work), scope: this });
    return startSpanAt(this.at, this.parts, name, attributes, options.links);
  }

  span<T>(name: string, attributes: SpanAttributes, work: (span: StartedSpan) => Promise<T>, links?: SpanLink[]): Promise<T> {
    const span = this.startSpan(name, attributes, links ? { links } : {});
    return this.recording ? runInSpan(span, work) : work(span);
  }

  pastSpan(name: string, attributes: SpanAttributes, seconds: number): void {
    if (!this.recording) return;
    this.parts.tracer.startSpan(name, { attributes, startTime: Date.now() - seconds * 1000 }, this.at).end();
  }

  outgoingHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    this.parts.propagator.inject(this.at, headers, defaultTextMapSetter);
    return headers;
  }
}

/** One started span, ended once. */
class OtelStartedSpan implements StartedSpan {
  readonly link: SpanLink | undefined;
  private readonly inside: Context;
  private ended = false;
  private place: OtelScope | undefined;

  constructor(
    private readonly span: Span,
    parent: Context,
    private readonly parts: ScopeParts,
  ) {
    this.inside = trace.setSpan(parent, span);
    if (isSampled(span)) {
      const { traceId, spanId } = span.spanContext();
      this.link = { traceId, spanId };
    }
  }

  run<T>(work: () => T): T {
    return context.with(this.inside, work);
  }

  get scope(): TraceScope {
    this.place ??= new OtelScope(this.inside, this.parts);
    return this.place;
  }

  setAttributes(attributes: SpanAttributes): void {
    // The tracer leaves out undefined values itself (recorder/recorded-span.ts).
    this.span.setAttributes(attributes);
  }

  end(failure?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (failure !== undefined) {
      this.span.recordException(failure instanceof Error ? failure : new Error(failureMessage(failure)));
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: failureMessage(failure) });
    }
    this.span.end();
  }
}

/** A recorded child of `parent` (or, with ROOT_CONTEXT, a trace of its own). */
export function startSpanAt(parent: Context, parts: ScopeParts, name: string, attributes: SpanAttributes, links?: SpanLink[]): StartedSpan {
  const options = links === undefined ? { attributes } : { attributes, links: sdkLinks(links) };
  return new OtelStartedSpan(parts.tracer.startSpan(name, options, parent), parent, parts);
}

/** Runs `work` in `span`, ending the span with the work's outcome. */
export function runInSpan<T>(span: StartedSpan, work: (span: StartedSpan) => Promise<T>): Promise<T> {
  return span.run(() => work(span)).then(
    (result) => {
      span.end();
      return result;
    },
    (err: unknown) => {
      span.end(err);
      throw err;
    },
  );
}
