import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { RequestObservation } from '../../src/observability/metrics/recorder.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus-process.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';
import { hasTool, requireTools } from '../helpers/tools.js';

/**
 * OpenMetrics and exemplars. Until tracing hands the recorder a trace, only a test can: porthole
 * is built in this process (buildApp, on a loopback port) and a request observation with an
 * exemplar is recorded directly, as the HTTP hook will record a sampled request's. A real
 * porthole process (`--metrics`) shows that its whole OpenMetrics answer parses, and a real
 * Prometheus with exemplar storage scrapes both.
 */

/** What Debian's Prometheus 2.42 sends on every scrape. */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const CLASSIC = 'text/plain; version=0.0.4; charset=utf-8';
const MANIFEST_ROUTE = '/v2/:name/manifests/:reference';
const TRACE = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
/** 12.3 ms: the le="0.025" bucket. */
const TRACED_REQUEST: RequestObservation = { method: 'GET', route: MANIFEST_ROUTE, status: 200, seconds: 0.0123, bytesIn: 0, bytesOut: 512, exemplar: TRACE };
const EXEMPLAR_LINE =
  /^porthole_http_request_duration_seconds_bucket\{method="GET",route="\/v2\/:name\/manifests\/:reference",le="0\.025"\} \d+ # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 0\.0123 \d+(\.\d+)?$/m;

let work: string | undefined;
let app: PortholeApp | undefined;
let appHost: string | undefined;
let porthole: PortholeProcess | undefined;
let prometheus: PrometheusProcess | undefined;

before(async () => {
  work = await tempDir('openmetrics');
  const config = validateConfig({ storage: { rootDirectory: join(work, 'root') }, extensions: { metrics: {} } });
  app = await buildApp(config, { logger: memoryLogger('warn').logger });
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('porthole built in the test has no port');
  appHost = `127.0.0.1:${address.port}`;
  porthole = await startPorthole({ args: ['--metrics'] });
  // Started now: Prometheus' first scrape comes about 5 s after it starts.
  if (hasTool('prometheus')) {
    prometheus = await startPrometheus({
      targets: [
        { job: 'built', target: appHost },
        { job: 'process', target: porthole.host },
      ],
      features: ['exemplar-storage'],
    });
  }
});

after(async () => {
  await prometheus?.dispose();
  await porthole?.stop();
  await app?.server.close();
  await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
});

function running<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} did not start`);
  return value;
}

async function scrape(target: PortholeApp, accept?: string): Promise<{ contentType: string; text: string }> {
  const response = await target.server.inject({ method: 'GET', url: '/metrics', headers: accept === undefined ? {} : { accept } });
  assert.equal(response.statusCode, 200);
  return { contentType: String(response.headers['content-type']), text: response.body };
}

describe('OpenMetrics and exemplars', { timeout: 90_000 }, () => {
  test('an OpenMetrics scrape shows the traced request on its bucket line and ends with # EOF; the classic text shows none', async () => {
    const built = running(app, 'porthole built in the test');
    built.telemetry.recorder.requestFinished(undefined, TRACED_REQUEST);
    const open = await scrape(built, PROMETHEUS_ACCEPT);
    assert.equal(open.contentType, OPENMETRICS);
    assert.match(open.text, EXEMPLAR_LINE);
    assert.equal(open.text.split('\n').filter((line) => line.includes(' # {')).length, 1, 'one exemplar: the one recorded');
    assert.ok(open.text.endsWith('\n# EOF\n'), 'OpenMetrics ends with # EOF');
    assert.match(open.text, /^# TYPE porthole_http_requests counter$/m, 'OpenMetrics names a counter family without _total');
    assert.match(open.text, /^porthole_http_requests_total\{/m, 'and its samples with it');

    const classic = await scrape(built);
    assert.equal(classic.contentType, CLASSIC);
    assert.ok(!classic.text.includes('trace_id') && !classic.text.includes('# EOF'));
    assert.match(classic.text, /^# TYPE porthole_http_requests_total counter$/m, 'the classic text keeps its names after an OpenMetrics scrape');
  });

  test('promtool check metrics finds nothing in the classic text after OpenMetrics scrapes', async (t) => {
    if (!requireTools(t, 'promtool')) return;
    const built = running(app, 'porthole built in the test');
    built.telemetry.recorder.requestFinished(undefined, TRACED_REQUEST);
    await scrape(built, PROMETHEUS_ACCEPT);
    assert.deepEqual(await promtoolCheckMetrics((await scrape(built, 'text/plain')).text), { code: 0, stdout: '', stderr: '' });
  });

  test('a porthole process answers Prometheus\' Accept with OpenMetrics, and a plain GET with the classic text', async () => {
    const p = running(porthole, 'porthole');
    const open = await fetch(`${p.url}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } });
    assert.equal(open.headers.get('content-type'), OPENMETRICS);
    assert.ok((await open.text()).endsWith('\n# EOF\n'));
    const classic = await fetch(`${p.url}/metrics`);
    assert.equal(classic.headers.get('content-type'), CLASSIC);
    assert.match(await classic.text(), /^# TYPE porthole_http_requests_total counter$/m);
  });

  test('Prometheus with exemplar storage accepts both OpenMetrics answers and stores the exemplar', async (t) => {
    if (!requireTools(t, 'prometheus')) return;
    const built = running(app, 'porthole built in the test');
    const prom = running(prometheus, 'prometheus');
    built.telemetry.recorder.requestFinished(undefined, TRACED_REQUEST);
    const recorded = Date.now();
    // Bounded waits (30 s each) for a scrape of each that started after the exemplar was recorded.
    await prom.scrapedSince('built', recorded);
    await prom.scrapedSince('process', recorded);
    const up = await prom.query('up');
    assert.deepEqual(Object.fromEntries(up.map((sample) => [sample.labels.job, sample.value])), { built: 1, process: 1 });

    const exemplars = await prom.queryExemplars('porthole_http_request_duration_seconds_bucket{job="built"}');
    assert.equal(exemplars.length, 1, JSON.stringify(exemplars));
    const [stored] = exemplars;
    assert.deepEqual(stored?.labels, { trace_id: TRACE.traceId, span_id: TRACE.spanId });
    assert.equal(stored?.value, 0.0123);
    assert.equal(stored?.seriesLabels.le, '0.025');
    assert.equal(stored?.seriesLabels.route, MANIFEST_ROUTE);
    assert.deepEqual(await prom.queryExemplars('porthole_http_request_duration_seconds_bucket{job="process"}'), [], 'no exemplar without a traced request');
  });
});
