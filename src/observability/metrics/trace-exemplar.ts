import type { ExemplarLabels } from './keyed-metrics.js';

/** The trace a sampled request was recorded in, as tracing hands it to the metrics. */
export interface TraceExemplar {
  /** 32 lowercase hex digits, as in W3C traceparent. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
}

/**
 * The exemplar's labels: `trace_id` and `span_id` are the names Prometheus' exemplar storage and
 * Grafana's "Exemplars" link of a Prometheus data source look for by default.
 */
export function traceExemplarLabels(trace: TraceExemplar): ExemplarLabels {
  return { trace_id: trace.traceId, span_id: trace.spanId };
}
