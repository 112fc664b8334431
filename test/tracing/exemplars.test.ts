import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { makeImage } from '../helpers/registry-client.js';
import { SPAN_WAIT_MS, tracingArgs } from './trace-helpers.js';

/**
 * Exemplars link the metrics to the traces: porthole with tracing on (every trace sampled) and
 * full-mode metrics; an OpenMetrics scrape shows, on the request-duration buckets, the trace id
 * of a recent request, and that trace is one the collector received. The OTLP/HTTP receiver of
 * the tests (test/helpers/otlp-receiver.ts) stands in for Jaeger/the collector, which have no
 * Debian package here. (A real Prometheus storing these exemplars: test/metrics/openmetrics-exemplars.test.ts.)
 */
const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';
const EXEMPLAR = /^porthole_http_request_duration_seconds_bucket\{([^}]*)\} \d+ # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\}/;

describe('tracing: exemplars', () => {
  let receiver: OtlpReceiver;
  let sampled: PortholeProcess;
  let unsampled: PortholeProcess;
  before(async () => {
    receiver = await startOtlpReceiver();
    [sampled, unsampled] = await Promise.all([
      startPorthole({ args: ['--metrics', ...tracingArgs(receiver.url, 1)] }),
      startPorthole({ args: ['--metrics', ...tracingArgs(receiver.url, 0)] }),
    ]);
  });
  after(async () => {
    await Promise.all([sampled?.stop(), unsampled?.stop()]);
    await receiver?.close();
  });

  const exemplarsOf = async (porthole: PortholeProcess) => {
    const scrape = await raw(porthole.url, { path: '/metrics', headers: { accept: OPENMETRICS } });
    assert.match(String(scrape.headers['content-type']), /^application\/openmetrics-text/);
    return scrape.body
      .toString('utf8')
      .split('\n')
      .flatMap((line) => {
        const match = EXEMPLAR.exec(line);
        return match ? [{ labels: match[1] as string, traceId: match[2] as string, spanId: match[3] as string }] : [];
      });
  };

  test('an OpenMetrics scrape shows the trace of a sampled manifest GET, and the collector has that trace', async () => {
    await makeImage(sampled.url, 'exemplars/app', { tag: 'v1' });
    assert.equal((await raw(sampled.url, { path: '/v2/exemplars/app/manifests/v1' })).status, 200);
    const onGets = (await exemplarsOf(sampled)).filter((e) => e.labels.includes('method="GET"') && e.labels.includes('route="/v2/:name/manifests/:reference"'));
    assert.equal(onGets.length, 1, 'one bucket of the manifest GETs carries the exemplar');
    const exemplar = onGets[0] as { traceId: string; spanId: string };
    const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === exemplar.traceId && span.spanId === exemplar.spanId), SPAN_WAIT_MS);
    const span = spans.find((s) => s.spanId === exemplar.spanId);
    assert.equal(span?.name, 'GET /v2/:name/manifests/:reference');
  });

  test('no exemplar for requests that are not sampled', async () => {
    await makeImage(unsampled.url, 'exemplars/app', { tag: 'v1' });
    assert.equal((await raw(unsampled.url, { path: '/v2/exemplars/app/manifests/v1' })).status, 200);
    assert.deepEqual(await exemplarsOf(unsampled), []);
  });
});
