import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LocalCache } from '../../storage/local-cache.js';

/** Attributes of a span; undefined values are left out. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** A span other work can point at: the shared download that a joining request waits on. */
export interface SpanLink {
  readonly traceId: string;
  readonly spanId: string;
}

/** The ids of a sampled request's span, as its log lines and exemplars carry them. */
export interface TraceIds {
  traceId: string;
  spanId: string;
}

/** A span started by `startSpan`: work runs inside it, and it ends once, with the work's failure if any. */
export interface StartedSpan {
  /** Runs `work` with this span as the current one: what it starts, even later, is its child. */
  run<T>(work: () => T): T;
  setAttributes(attributes: SpanAttributes): void;
  /** Ends the span; a failure is recorded on it (its message, and status error). */
  end(failure?: unknown): void;
  /** Where other spans may link to; undefined when this span is not recorded. */
  readonly link: SpanLink | undefined;
}

/**
 * What the rest of porthole sees of tracing. The real implementation (otel-tracing.ts) is loaded
 * only when tracing is on; `disabledTracing` is its twin with the same shape, doing nothing, so
 * that no caller ever checks a flag and no OpenTelemetry module is loaded while tracing is off.
 * Span names and attributes are listed in docs/tracing.md.
 */
export interface Tracing {
  readonly enabled: boolean;
  /** One server span per request (but those to `untracedPaths`), from the root hooks; it continues an incoming `traceparent`. */
  instrumentServer(app: FastifyInstance, untracedPaths: ReadonlySet<string>): void;
  /** Runs an API handler inside its request's span, so that the work it starts is the span's children. */
  inRequest<T>(request: FastifyRequest, work: () => T): T;
  /** The ids of a request's span when it is sampled; undefined otherwise. */
  idsOf(request: FastifyRequest): TraceIds | undefined;
  /** Whether the current work belongs to a recorded (sampled) span: whether a child span would be recorded. */
  recording(): boolean;
  /** Starts a child of the current span (or, with `root`, a trace of its own, for scheduled jobs). */
  startSpan(name: string, attributes?: SpanAttributes, options?: { links?: SpanLink[]; root?: boolean }): StartedSpan;
  /** Runs `work` as a child span of the current one, ending it with the work's outcome. */
  span<T>(name: string, attributes: SpanAttributes, work: () => Promise<T>, links?: SpanLink[]): Promise<T>;
  /** A child span for something that just ended after `seconds` (a lock wait). */
  pastSpan(name: string, attributes: SpanAttributes, seconds: number): void;
  /** `traceparent` (and `tracestate`) of the current span, for a request porthole sends on. */
  outgoingHeaders(): Record<string, string>;
  /** The store with a child span around each of its operations (only inside a traced request or job). */
  traceStore(store: LocalCache): LocalCache;
  /** Sends what is still queued, giving up after `timeoutMs`. */
  shutdown(timeoutMs: number): Promise<void>;
}

const notRecorded: StartedSpan = {
  run: (work) => work(),
  setAttributes: () => undefined,
  end: () => undefined,
  link: undefined,
};

/** Tracing off: the same calls, doing nothing. */
export const disabledTracing: Tracing = {
  enabled: false,
  instrumentServer: () => undefined,
  inRequest: (_request, work) => work(),
  idsOf: () => undefined,
  recording: () => false,
  startSpan: () => notRecorded,
  span: (_name, _attributes, work) => work(),
  pastSpan: () => undefined,
  outgoingHeaders: () => ({}),
  traceStore: (store) => store,
  shutdown: async () => undefined,
};
