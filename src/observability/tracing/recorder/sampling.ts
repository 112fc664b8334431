import { TraceFlags, type Attributes, type SpanContext } from '@opentelemetry/api';

/** Whether a new span is recorded and exported (sampled), or only carries its trace on. */
export type SamplingDecision = (parent: SpanContext | undefined, traceId: string, attributes: Attributes | undefined) => boolean;

/** The attribute every batch job's root span carries (jobs/runner.ts). */
export const JOB_ATTRIBUTE = 'porthole.job';

const TWO_32 = 2 ** 32;

/**
 * Parent-based sampling at `probability`, as OpenTelemetry's ParentBased(TraceIdRatioBased)
 * decides it: a span with a parent follows the parent's sampled flag, from the caller or from
 * this process alike; a new trace is sampled when its id falls below the probability (the id's
 * last 32 bits, which W3C trace context requires to be random, read as a fraction), so every
 * process that samples by trace id at the same probability takes the same traces. A batch job's
 * run (rare, long, and looked for when it failed) is always recorded.
 */
export function parentBasedRatio(probability: number): SamplingDecision {
  const bound = Math.floor(Math.min(Math.max(probability, 0), 1) * TWO_32);
  return (parent, traceId, attributes) => {
    if (parent !== undefined) return (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    if (attributes !== undefined && attributes[JOB_ATTRIBUTE] !== undefined) return true;
    if (bound >= TWO_32) return true;
    return parseInt(traceId.slice(24), 16) < bound;
  };
}
