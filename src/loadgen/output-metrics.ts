import { Gauge, Registry, type Metric, type OpenMetricsContentType } from 'prom-client';
import { LATENCY_FIGURES, QUANTILE_OF, type LatencySummary } from './percentiles.js';
import { TTFB_KINDS } from './recorder.js';
import type { BenchReport } from './report.js';

/** The request kinds of the TTFB metric, as label values. */
const TTFB_LABEL = { manifestHead: 'manifest_head', manifestGet: 'manifest_get', config: 'config', layer: 'layer' } as const;

type Labels = Record<string, string>;

/**
 * A summary whose quantiles, sum and count are known already (measured by porthole-bench, not
 * observed one by one): rendered by prom-client as any summary, from what `get` answers.
 */
class KnownSummary {
  readonly type = 'summary';
  readonly aggregator = 'sum';
  private readonly series: Array<{ labels: Labels; summary: LatencySummary }> = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** One series from a summary in milliseconds (the metric is in seconds). */
  set(labels: Labels, summary: LatencySummary): void {
    this.series.push({ labels, summary });
  }

  async get() {
    const values = this.series.flatMap(({ labels, summary }) => [
      ...LATENCY_FIGURES.map((figure) => ({ labels: { ...labels, quantile: QUANTILE_OF[figure] }, value: summary[figure] / 1000 })),
      { metricName: `${this.name}_sum`, labels, value: summary.sum / 1000 },
      { metricName: `${this.name}_count`, labels, value: summary.count },
    ]);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * The report as Prometheus metrics, on a registry of its own, per registry and test: requests,
 * failures (error or timeout), HTTP answers by code, bytes each way, wall time, rates, and
 * summaries of latency and of time to first byte (quantile 0 is the minimum, 1 the maximum). The
 * counts are gauges: each is what one run measured, pushed or written once, not a counter that a
 * process keeps increasing. The same metrics are the openmetrics output and what is pushed.
 */
export function reportMetrics(report: BenchReport): Registry {
  const registry = new Registry();
  const common = ['registry', 'test'] as const;
  const gauge = (name: string, help: string, extra: string[] = []) => new Gauge({ name, help, labelNames: [...common, ...extra], registers: [registry] });
  const requests = gauge('porthole_bench_requests', 'Requests (operations) the test made, done and failed.');
  const failures = gauge('porthole_bench_failed_requests', 'Requests of the test that failed, by kind (error or timeout).', ['kind']);
  const responses = gauge('porthole_bench_http_responses', "HTTP answers to the test's requests, by status code.", ['code']);
  const bytes = gauge('porthole_bench_transferred_bytes', 'Body bytes the test moved, by direction (sent or received).', ['direction']);
  const duration = gauge('porthole_bench_test_duration_seconds', "Wall time of the test's measured requests.");
  const rate = gauge('porthole_bench_requests_per_second', 'Successful requests per second of wall time.');
  const throughput = gauge('porthole_bench_bytes_per_second', 'Body bytes moved per second of wall time, both directions.');
  const outcome = gauge('porthole_bench_test_outcome', "1 for the test's outcome: completed, skipped or setup failed.", ['outcome']);
  const latency = new KnownSummary('porthole_bench_request_duration_seconds', 'Latency of the successful requests (quantile 0 is the minimum, 1 the maximum).');
  const ttfb = new KnownSummary('porthole_bench_time_to_first_byte_seconds', 'Time to the first byte of the answers of pulls, by request (manifest HEAD and GET, config, layer).');
  registry.registerMetric(latency as unknown as Metric);
  registry.registerMetric(ttfb as unknown as Metric);
  const ratio = report.comparison
    ? new Gauge({ name: 'porthole_bench_compare_ratio', help: "URL's figure over URL2's with --compare, by figure.", labelNames: ['registry', 'compared_to', 'test', 'figure'], registers: [registry] })
    : undefined;

  for (const run of report.runs) {
    for (const test of run.tests) {
      const labels = { registry: run.registry, test: test.name };
      outcome.set({ ...labels, outcome: test.outcome }, 1);
      requests.set(labels, test.completed + test.failed);
      failures.set({ ...labels, kind: 'error' }, test.failed - test.timeouts);
      failures.set({ ...labels, kind: 'timeout' }, test.timeouts);
      if (test.outcome !== 'completed') continue;
      for (const [code, count] of Object.entries(test.statusCodes)) responses.set({ ...labels, code }, count);
      bytes.set({ ...labels, direction: 'sent' }, test.bytesSent);
      bytes.set({ ...labels, direction: 'received' }, test.bytesReceived);
      duration.set(labels, test.durationMs / 1000);
      rate.set(labels, test.requestsPerSecond);
      throughput.set(labels, test.bytesPerSecond);
      if (test.latencyMs) latency.set(labels, test.latencyMs);
      for (const kind of TTFB_KINDS) {
        const summary = test.ttfbMs?.[kind];
        if (summary) ttfb.set({ ...labels, request: TTFB_LABEL[kind] }, summary);
      }
    }
  }
  for (const entry of report.comparison ?? []) {
    const labels = { registry: entry.registries[0], compared_to: entry.registries[1], test: entry.name };
    const figures = { requests_per_second: entry.requestsPerSecond, bytes_per_second: entry.bytesPerSecond, latency_p50: entry.p50LatencyMs, latency_p99: entry.p99LatencyMs };
    for (const [figure, value] of Object.entries(figures)) if (value !== null) ratio?.set({ ...labels, figure }, value);
  }
  return registry;
}

/** The openmetrics output: the report's metrics in the OpenMetrics text format (ending with # EOF). */
export async function openMetricsText(report: BenchReport): Promise<string> {
  const registry = reportMetrics(report) as unknown as Registry<OpenMetricsContentType>;
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry.metrics();
}
