import type { SeriesResponse } from '../management/api-types.js';
import { startPeriodic } from '../periodic.js';
import { LATENCY_BUCKETS, type Metrics } from '../observability/metrics/catalogue.js';
import type { MetricsRecorder } from '../observability/metrics/recorder.js';
import type { StorageGauges } from '../observability/metrics/storage-gauges.js';
import type { MetricsMode } from '../observability/metrics/telemetry.js';

/** One sample every 5 s ... */
export const SAMPLE_INTERVAL_MS = 5_000;
/** ... the newest 360 kept: the last 30 minutes, about 30 KB of JSON at most. */
export const SAMPLE_CAPACITY = 360;

/** What the sampler reads: the metrics porthole already keeps, never storage. */
export interface SeriesSources {
  metrics: Metrics;
  recorder: MetricsRecorder;
  gauges: StorageGauges;
  mode: MetricsMode;
}

export interface SamplerOptions {
  intervalMs?: number;
  capacity?: number;
}

/** Running totals of the counters read at one instant. */
interface Totals {
  requests: number;
  serverErrors: number;
  /** Requests per latency bucket (not cumulative), the last slot +Inf. */
  latencyBuckets: number[];
  manifestPulls: number;
  blobPulls: number;
  pushes: number;
  cacheHits: number;
  upstreamPulls: number;
  /** Whether per-request metrics were being collected when read. */
  collecting: boolean;
}

type Column = Array<number | null>;
type SeriesColumns = SeriesResponse['series'];
type FigureName = Exclude<keyof SeriesColumns, 'time'>;

const FIGURES: readonly FigureName[] = [
  'requestsPerSecond',
  'serverErrorsPerSecond',
  'latencyP50Seconds',
  'latencyP90Seconds',
  'latencyP99Seconds',
  'manifestPullsPerSecond',
  'blobPullsPerSecond',
  'pushesPerSecond',
  'cacheHitRatio',
  'bytesStored',
];

/** The registry API's routes: the dashboard's own requests (/ui/, /api/v1) are not its traffic. */
function isRegistryRoute(route: string | number | undefined): boolean {
  return typeof route === 'string' && route.startsWith('/v2');
}

/**
 * The `q` quantile of requests spread over latency buckets (per-bucket counts, the last +Inf), as
 * Prometheus' histogram_quantile estimates it: linear within the bucket the rank falls in; the
 * highest finite bound when it falls in +Inf. Undefined without requests.
 */
export function bucketQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | undefined {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total <= 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let index = 0; index < counts.length; index += 1) {
    const count = counts[index] as number;
    if (count > 0 && below + count >= rank) {
      if (index >= bounds.length) return bounds[bounds.length - 1];
      const lower = index === 0 ? 0 : (bounds[index - 1] as number);
      const upper = bounds[index] as number;
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return bounds[bounds.length - 1];
}

/**
 * The web dashboard's live figures (GET /api/v1/series): every interval, the running totals of a
 * few of porthole's own metrics are read (as a scrape reads them, without rendering any text) and
 * the differences with the previous reading become one sample of rates, latency percentiles and
 * the cache hit ratio; bytes stored come from the last storage scan. A ring of `capacity` samples
 * bounds memory. In minimal mode per-request metrics are collected only while an exporter
 * scrapes: an interval in which they were not has null request figures, never a false zero.
 */
export class SeriesSampler {
  readonly intervalMs: number;
  readonly capacity: number;
  private readonly times: number[] = [];
  private readonly columns = new Map<FigureName, Column>(FIGURES.map((name) => [name, []]));
  private previous: Totals | undefined;
  private stopTimer: (() => void) | undefined;

  constructor(
    private readonly sources: SeriesSources,
    options: SamplerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? SAMPLE_INTERVAL_MS;
    this.capacity = Math.max(1, options.capacity ?? SAMPLE_CAPACITY);
  }

  /** Takes the first reading now (the baseline of the first interval) and samples every interval after it. */
  async start(onError: (err: unknown) => void): Promise<void> {
    this.previous = await this.read();
    this.stopTimer = startPeriodic(this.intervalMs, () => this.sample(), onError);
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
  }

  /** One sample: the interval since the previous reading (the first call only takes the baseline). */
  async sample(now = Date.now()): Promise<void> {
    const current = await this.read();
    const before = this.previous;
    this.previous = current;
    if (before === undefined) return;
    const seconds = this.intervalMs / 1000;
    // Both readings must have been collecting, or the interval's requests were (partly) not counted.
    const counted = before.collecting && current.collecting;
    const rate = (from: number, to: number): number | null => (counted && to >= from ? (to - from) / seconds : null);
    const buckets = current.latencyBuckets.map((count, index) => count - (before.latencyBuckets[index] ?? 0));
    const percentile = (q: number): number | null => (counted && buckets.every((count) => count >= 0) ? (bucketQuantile(q, LATENCY_BUCKETS, buckets) ?? null) : null);
    const hits = current.cacheHits - before.cacheHits;
    const proxied = hits + current.upstreamPulls - before.upstreamPulls;
    const scan = this.sources.gauges.lastScan;
    const figures: Record<FigureName, number | null> = {
      requestsPerSecond: rate(before.requests, current.requests),
      serverErrorsPerSecond: rate(before.serverErrors, current.serverErrors),
      latencyP50Seconds: percentile(0.5),
      latencyP90Seconds: percentile(0.9),
      latencyP99Seconds: percentile(0.99),
      manifestPullsPerSecond: rate(before.manifestPulls, current.manifestPulls),
      blobPullsPerSecond: rate(before.blobPulls, current.blobPulls),
      pushesPerSecond: rate(before.pushes, current.pushes),
      cacheHitRatio: counted && proxied > 0 && hits >= 0 ? hits / proxied : null,
      bytesStored: scan === undefined ? null : scan.stats.blobs.bytes + scan.stats.manifests.bytes,
    };
    this.times.push(Math.round(now / 1000));
    for (const name of FIGURES) (this.columns.get(name) as Column).push(figures[name]);
    if (this.times.length > this.capacity) {
      const excess = this.times.length - this.capacity;
      this.times.splice(0, excess);
      for (const column of this.columns.values()) column.splice(0, excess);
    }
  }

  /** The samples kept, oldest first (copies: the caller may keep them while sampling goes on). */
  snapshot(): SeriesResponse {
    const series = { time: [...this.times] } as SeriesColumns;
    for (const name of FIGURES) series[name] = [...(this.columns.get(name) as Column)];
    return {
      intervalSeconds: this.intervalMs / 1000,
      capacity: this.capacity,
      mode: this.sources.mode,
      collecting: this.sources.recorder.collecting,
      series,
    };
  }

  private async read(): Promise<Totals> {
    const { metrics, recorder } = this.sources;
    // Read before the counters, so that an interval is only trusted when collection was on at both ends.
    const collecting = recorder.collecting;
    const totals: Totals = {
      requests: 0,
      serverErrors: 0,
      latencyBuckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0),
      manifestPulls: 0,
      blobPulls: 0,
      pushes: 0,
      cacheHits: 0,
      upstreamPulls: 0,
      collecting,
    };
    for (const { labels, value } of (await metrics.httpRequests.get()).values) {
      if (!isRegistryRoute(labels.route)) continue;
      totals.requests += value;
      if (Number(labels.code) >= 500) totals.serverErrors += value;
    }
    // Cumulative bucket counts summed over the registry's routes, then made per-bucket.
    const cumulative = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
    for (const { labels, value, metricName } of (await metrics.httpDuration.get()).values) {
      if (metricName !== 'porthole_http_request_duration_seconds_bucket' || !isRegistryRoute(labels.route)) continue;
      const le = (labels as Record<string, string | number>).le;
      const slot = le === '+Inf' ? LATENCY_BUCKETS.length : LATENCY_BUCKETS.indexOf(Number(le));
      if (slot >= 0) cumulative[slot] = (cumulative[slot] as number) + value;
    }
    cumulative.forEach((count, slot) => (totals.latencyBuckets[slot] = count - (slot === 0 ? 0 : (cumulative[slot - 1] as number))));
    for (const { labels, value } of (await metrics.pulls.get()).values) {
      if (labels.type === 'manifest') totals.manifestPulls += value;
      else if (labels.type === 'blob') totals.blobPulls += value;
    }
    for (const { value } of (await metrics.repoUploads.get()).values) totals.pushes += value;
    for (const { labels, value } of (await metrics.proxyPulls.get()).values) {
      if (labels.source === 'cache') totals.cacheHits += value;
      else totals.upstreamPulls += value;
    }
    return totals;
  }
}
