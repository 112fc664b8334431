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

/**
 * A place in a trace, held explicitly: the active span is only known to synchronous code (see
 * `Tracing`), so asynchronous work that starts spans, or calls traced layers, after an `await`
 * takes its scope along. Its spans are children of that place.
 */
export interface TraceScope {
  /** Whether a child started here would be recorded (a sampled request or job is around). */
  readonly recording: boolean;
  /** Runs `work` with this place as the current one, for the synchronous part of `work`. */
  run<T>(work: () => T): T;
  /** Starts a child span here. */
  startSpan(name: string, attributes?: SpanAttributes, options?: { links?: SpanLink[] }): StartedSpan;
  /** Runs `work` as a child span here (given to it, for work under it after an await), ending it with the work's outcome. */
  span<T>(name: string, attributes: SpanAttributes, work: (span: StartedSpan) => Promise<T>, links?: SpanLink[]): Promise<T>;
  /** A child span here for something that just ended after `seconds` (a lock wait). */
  pastSpan(name: string, attributes: SpanAttributes, seconds: number): void;
  /** `traceparent` (and `tracestate`) of this place, for a request porthole sends on. */
  outgoingHeaders(): Record<string, string>;
}

/** A span started by `startSpan`: work runs inside it, and it ends once, with the work's failure if any. */
export interface StartedSpan {
  /** Runs `work` with this span as the current one: what its synchronous part starts is the span's child. */
  run<T>(work: () => T): T;
  /** The span as a place, for asynchronous work done under it. */
  readonly scope: TraceScope;
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
 *
 * The current span is carried through synchronous calls only, not across `await`: on Node 20,
 * carrying it through promises (AsyncLocalStorage) cost about 15% more CPU per request at
 * samplingProb 1 (bench/RESULTS.md). Work that goes on after an `await` holds a `TraceScope`
 * (from `here()`, a started span, or a request), and stores handed to such work are bound to
 * one (`bindStore`), so that their operations are children of the right span.
 */
export interface Tracing extends TraceScope {
  readonly enabled: boolean;
  /** One server span per request (but those to `untracedPaths`), from the root hooks; it continues an incoming `traceparent`. */
  instrumentServer(app: FastifyInstance, untracedPaths: ReadonlySet<string>): void;
  /**
   * The request's place in its trace, for the work that answers it: its server span when that is
   * recorded, or a caller's trace that is not sampled here (so that it goes on, unsampled, to the
   * upstreams); undefined when there is nothing to carry.
   */
  requestScope(request: FastifyRequest): TraceScope | undefined;
  /** The ids of a request's span when it is sampled; undefined otherwise. */
  idsOf(request: FastifyRequest): TraceIds | undefined;
  /** The current place (the synchronous caller's), held for work after an `await`. */
  here(): TraceScope;
  /** Starts a child of the current span or, with `root`, a trace of its own (a batch job's run). */
  startSpan(name: string, attributes?: SpanAttributes, options?: { links?: SpanLink[]; root?: boolean }): StartedSpan;
  /** The store with a child span around each of its operations (only inside a traced request or job). */
  traceStore(store: LocalCache): LocalCache;
  /** `store` whose every operation runs in `scope`: what it traces (and sends upstream) belongs there. */
  bindStore<S extends object>(store: S, scope: TraceScope): S;
  /** Sends what is still queued, giving up after `timeoutMs`. */
  shutdown(timeoutMs: number): Promise<void>;
}

/** A place where nothing is recorded and no trace is carried: tracing off, or work outside any trace. */
export const untraced: TraceScope = {
  recording: false,
  run: (work) => work(),
  startSpan: () => notRecorded,
  span: (_name, _attributes, work) => work(notRecorded),
  pastSpan: () => undefined,
  outgoingHeaders: () => ({}),
};

/** A span that is not recorded: its work runs as it is. */
export const notRecorded: StartedSpan = {
  run: (work) => work(),
  scope: untraced,
  setAttributes: () => undefined,
  end: () => undefined,
  link: undefined,
};

/** Tracing off: the same calls, doing nothing. */
export const disabledTracing: Tracing = {
  ...untraced,
  enabled: false,
  instrumentServer: () => undefined,
  requestScope: () => undefined,
  idsOf: () => undefined,
  here: () => untraced,
  traceStore: (store) => store,
  bindStore: (store) => store,
  shutdown: async () => undefined,
};
