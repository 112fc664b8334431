import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { metricsSchema } from '../../src/config/schema.js';
import { expositionFor, prefersOpenMetrics } from '../../src/observability/metrics/exposition.js';
import { KeyedCounter, KeyedHistogram } from '../../src/observability/metrics/keyed-metrics.js';
import { createTelemetry } from '../../src/observability/metrics/telemetry.js';
import { NO_CACHES } from '../../src/storage/types.js';

/**
 * Exemplars on the keyed histogram, and the choice and rendering of OpenMetrics, read through the
 * text a scrape gets (what Prometheus parses), not through the histogram's insides.
 */

/** What Prometheus 2.42 (Debian's) sends on every scrape, exemplar storage on or off. */
const PROMETHEUS_2_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
/** The default of Prometheus 3, from the example in Prometheus' "Scrape protocol content negotiation" page. */
const PROMETHEUS_3_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';

const TRACE = { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' };
const LATER_TRACE = { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' };

function histogram(): { registry: Registry; latency: KeyedHistogram<'route'> } {
  const registry = new Registry();
  const latency = new KeyedHistogram({ name: 'test_latency_seconds', help: 'Test latency.', labelNames: ['route'] as const, buckets: [0.01, 0.1, 1], registers: [registry] });
  return { registry, latency };
}

async function openMetrics(registry: Registry): Promise<string> {
  return (await expositionFor(registry, PROMETHEUS_2_ACCEPT)).text;
}

/** The bucket lines of one series, by `le`. */
function bucketLines(text: string, route: string): Record<string, string> {
  const lines: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = new RegExp(`^test_latency_seconds_bucket\\{route="${route}",le="([^"]+)"\\} `).exec(line);
    if (match) lines[match[1] as string] = line;
  }
  return lines;
}

/** The exemplar part of a sample line (after ` # `), or undefined. */
function exemplarOf(line: string | undefined): string | undefined {
  const at = line?.indexOf(' # ') ?? -1;
  return at < 0 ? undefined : line?.slice(at + 3);
}

describe('KeyedHistogram exemplars', () => {
  it('the bucket an observation falls in carries its exemplar, with its value and time; other buckets none', async () => {
    const { registry, latency } = histogram();
    const before = Date.now() / 1000;
    latency.observeKey('/a', { route: '/a' }, 0.05, TRACE);
    latency.observeKey('/a', { route: '/a' }, 0.005);
    const after = Date.now() / 1000;
    const lines = bucketLines(await openMetrics(registry), '/a');
    assert.deepEqual(Object.keys(lines).sort(), ['+Inf', '0.01', '0.1', '1']);
    const exemplar = exemplarOf(lines['0.1']);
    const match = /^\{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 0\.05 (\d+(?:\.\d+)?)$/.exec(exemplar ?? '');
    assert.ok(match, `the le="0.1" line carries the exemplar: ${lines['0.1']}`);
    const timestamp = Number(match[1]);
    assert.ok(timestamp >= before - 0.001 && timestamp <= after + 0.001, `the exemplar is stamped with the observation's time (Unix seconds): ${timestamp}`);
    for (const le of ['0.01', '1', '+Inf']) assert.equal(exemplarOf(lines[le]), undefined, `le="${le}" has no exemplar`);
  });

  it('the latest exemplar of a bucket wins; each bucket keeps its own; +Inf too', async () => {
    const { registry, latency } = histogram();
    latency.observeKey('/a', { route: '/a' }, 0.05, TRACE);
    latency.observeKey('/a', { route: '/a' }, 0.07, LATER_TRACE);
    latency.observeKey('/a', { route: '/a' }, 0.005, TRACE);
    latency.observeKey('/a', { route: '/a' }, 7, TRACE);
    latency.observeKey('/b', { route: '/b' }, 0.5);
    const text = await openMetrics(registry);
    const a = bucketLines(text, '/a');
    assert.match(exemplarOf(a['0.1']) ?? '', /^\{trace_id="0af7651916cd43dd8448eb211c80319c",span_id="b7ad6b7169203331"\} 0\.07 /);
    assert.match(exemplarOf(a['0.01']) ?? '', /^\{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 0\.005 /);
    assert.equal(exemplarOf(a['1']), undefined);
    assert.match(exemplarOf(a['+Inf']) ?? '', /^\{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 7 /);
    assert.ok(Object.values(bucketLines(text, '/b')).every((line) => exemplarOf(line) === undefined), 'a series observed without exemplars has none');
  });

  it('no exemplar given: none rendered, and the text is what prom-client renders for the counts alone', async () => {
    const { registry, latency } = histogram();
    latency.observeKey('/a', { route: '/a' }, 0.05);
    const text = await openMetrics(registry);
    assert.ok(!text.includes(' # {'), text);
    assert.match(text, /^test_latency_seconds_bucket\{route="\/a",le="0\.1"\} 1$/m);
  });

  it('exemplars show only in OpenMetrics: not in the classic text, nor in the JSON of minimal mode', async () => {
    const { registry, latency } = histogram();
    latency.observeKey('/a', { route: '/a' }, 0.05, TRACE);
    assert.ok(!(await registry.metrics()).includes('trace_id'));
    assert.ok(!JSON.stringify(await registry.getMetricsAsJSON()).includes('trace_id'));
  });

  it('an exemplar longer than the 128 characters OpenMetrics allows is not kept (Prometheus would fail the scrape)', async () => {
    const { registry, latency } = histogram();
    latency.observeKey('/a', { route: '/a' }, 0.05, { trace_id: 'a'.repeat(100), span_id: 'b'.repeat(16) });
    latency.observeKey('/a', { route: '/a' }, 0.5, TRACE);
    const lines = bucketLines(await openMetrics(registry), '/a');
    assert.equal(exemplarOf(lines['0.1']), undefined);
    assert.ok(exemplarOf(lines['1']), 'a valid exemplar in another bucket is kept');
    assert.match(lines['0.1'] ?? '', / 1$/, 'the observation itself is counted');
  });
});

describe('MetricsRecorder exemplars', () => {
  it('a request observation with a trace becomes the exemplar of its duration bucket, as trace_id and span_id', async () => {
    const t = createTelemetry(metricsSchema.parse({ enable: true }), () => NO_CACHES);
    const observation = { method: 'GET', route: '/v2/:name/manifests/:reference', status: 200, seconds: 0.0123, bytesIn: 0, bytesOut: 500 };
    t.recorder.requestFinished(undefined, { ...observation, exemplar: { traceId: TRACE.trace_id, spanId: TRACE.span_id } });
    const text = await openMetrics(t.registry);
    const withExemplars = text.split('\n').filter((line) => line.includes(' # {'));
    assert.equal(withExemplars.length, 1, withExemplars.join('\n'));
    assert.match(
      withExemplars[0] ?? '',
      /^porthole_http_request_duration_seconds_bucket\{method="GET",route="\/v2\/:name\/manifests\/:reference",le="0\.025"\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 0\.0123 \d+(\.\d+)?$/,
    );
  });
});

describe('prefersOpenMetrics', () => {
  it('what Prometheus 2 and 3 send by default asks for OpenMetrics', () => {
    assert.equal(prefersOpenMetrics(PROMETHEUS_2_ACCEPT), true);
    assert.equal(prefersOpenMetrics(PROMETHEUS_3_ACCEPT), true);
    assert.equal(prefersOpenMetrics('application/openmetrics-text'), true);
    assert.equal(prefersOpenMetrics('Application/OpenMetrics-Text; Version="1.0.0"'), true);
  });

  it('no header, any type, the classic text, or OpenMetrics ranked lower, refused or in a version not served: the classic text', () => {
    for (const accept of [
      undefined,
      '',
      '*/*',
      'text/plain;version=0.0.4',
      'text/plain;version=0.0.4,application/openmetrics-text;version=1.0.0;q=0.5',
      'application/openmetrics-text;q=0',
      'application/openmetrics-text;version=2.0.0',
      'application/openmetrics-text;q=abc',
      ';;,,',
    ]) {
      assert.equal(prefersOpenMetrics(accept), false, String(accept));
    }
  });
});

describe('expositionFor', () => {
  function counterRegistry(): Registry {
    const registry = new Registry();
    const requests = new KeyedCounter({ name: 'test_requests_total', help: 'Test requests.', labelNames: ['code'] as const, registers: [registry] });
    requests.add('200', { code: '200' }, 3);
    return registry;
  }

  it('OpenMetrics: its content type, counters typed without _total and sampled with it, # EOF last', async () => {
    const answer = await expositionFor(counterRegistry(), PROMETHEUS_2_ACCEPT);
    assert.equal(answer.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.equal(answer.text, '# HELP test_requests Test requests.\n# TYPE test_requests counter\ntest_requests_total{code="200"} 3\n# EOF\n');
  });

  it('the classic text is the registry\'s own rendering, and stays so after an OpenMetrics scrape (prom-client renames counters in place when a registry renders OpenMetrics)', async () => {
    const registry = counterRegistry();
    const classic = '# HELP test_requests_total Test requests.\n# TYPE test_requests_total counter\ntest_requests_total{code="200"} 3\n';
    assert.deepEqual(await expositionFor(registry, undefined), { contentType: 'text/plain; version=0.0.4; charset=utf-8', text: classic });
    await expositionFor(registry, PROMETHEUS_2_ACCEPT);
    assert.deepEqual(await expositionFor(registry, 'text/plain'), { contentType: 'text/plain; version=0.0.4; charset=utf-8', text: classic });
    assert.equal(await registry.metrics(), classic);
  });
});
