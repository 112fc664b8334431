/** Latency figures of one test, in milliseconds; undefined when nothing succeeded. */
export interface LatencySummary {
  min: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  max: number;
  /** How many values, and their sum: a Prometheus summary's _count and _sum. */
  count: number;
  sum: number;
}

export const LATENCY_FIGURES = ['min', 'p50', 'p75', 'p90', 'p99', 'max'] as const;

/** Each figure as the quantile a Prometheus summary would label it with. */
export const QUANTILE_OF: Record<(typeof LATENCY_FIGURES)[number], string> = { min: '0', p50: '0.5', p75: '0.75', p90: '0.9', p99: '0.99', max: '1' };

/** Nearest-rank percentile of sorted values: the smallest value with at least p of them at or below it. */
function rank(sorted: Float64Array, p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[index] as number;
}

export function summarize(values: readonly number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const round = (value: number): number => Math.round(value * 1000) / 1000;
  return {
    min: round(sorted[0] as number),
    p50: round(rank(sorted, 0.5)),
    p75: round(rank(sorted, 0.75)),
    p90: round(rank(sorted, 0.9)),
    p99: round(rank(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] as number),
    count: sorted.length,
    sum: round(sorted.reduce((total, value) => total + value, 0)),
  };
}
