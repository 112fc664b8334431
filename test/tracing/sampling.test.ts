import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

/**
 * Sampling decisions of porthole's tracing, through the front door: porthole is built in this
 * process (buildApp + inject, fast enough for 2,000 requests) with its `tracing` section pointing
 * at an OTLP/HTTP receiver of the tests' own (test/helpers/otlp-receiver.ts), which stands in for
 * Jaeger or the OpenTelemetry collector: neither has a Debian package on these machines. What the
 * receiver decodes is what the real OTLP exporter sent.
 */

/** The batch processor sends every second (otel-tracing.ts); two intervals and a margin. */
const TWO_EXPORT_INTERVALS_MS = 2_500;
/** OTLP SpanKind SERVER. */
const SERVER = 2;

let receiver: OtlpReceiver | undefined;
let work: string | undefined;

before(async () => {
  receiver = await startOtlpReceiver();
  work = await tempDir('tracing-sampling');
});

after(async () => {
  await receiver?.close();
  if (work !== undefined) await cleanup(work);
});

function running<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} did not start`);
  return value;
}

interface TracedApp {
  app: PortholeApp;
  /** The parsed log lines, access lines included (info). */
  lines: Array<Record<string, unknown>>;
}

let appCount = 0;

/** porthole built with tracing on at `samplingProb`, exporting to the receiver; each with a storage root of its own. */
async function tracedApp(samplingProb: number): Promise<TracedApp> {
  const endpoint = running(receiver, 'the OTLP receiver').url;
  appCount += 1;
  const config = validateConfig({
    storage: { rootDirectory: join(running(work, 'the temp dir'), `root-${appCount}`) },
    // Closing the app flushes the spans still queued, within this bound.
    http: { shutdownTimeout: '10s' },
    tracing: { enable: true, endpoint, samplingProb },
  });
  const { logger, lines } = memoryLogger('info');
  return { app: await buildApp(config, { logger }), lines };
}

/**
 * Runs `check` against a traced app, and always closes it: that shuts its tracing provider down,
 * sending what is still queued. Resolves with the closed app and its log lines.
 */
async function withTracedApp(samplingProb: number, check: (traced: TracedApp) => Promise<void>): Promise<TracedApp> {
  const traced = await tracedApp(samplingProb);
  try {
    await check(traced);
  } finally {
    await traced.app.server.close();
  }
  return traced;
}

async function ping(app: PortholeApp, headers: Record<string, string> = {}): Promise<void> {
  const response = await app.server.inject({ method: 'GET', url: '/v2/', headers });
  assert.equal(response.statusCode, 200, response.body);
}

function serverSpans(spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  return spans.filter((span) => span.kind === SERVER);
}

/** A W3C traceparent of a fresh trace, as a client that made the sampling decision sends it. */
function traceparent(sampled: boolean): { header: string; traceId: string; parentSpanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentSpanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${parentSpanId}-${sampled ? '01' : '00'}`, traceId, parentSpanId };
}

describe('tracing: sampling probability and parent-based decisions', { timeout: 90_000 }, () => {
  test('samplingProb 0.3 over 2,000 requests without traceparent exports the server spans of 0.3 ± 0.05 of them', async () => {
    const requests = 2_000;
    const target = 0.3;
    // Statistical, with a fixed tolerance: the sampler decides on random trace ids, so the count
    // is Binomial(2000, 0.3), standard deviation about 20.5 spans (0.0102 of the share). ±0.05 is
    // 4.9 standard deviations: a failure by chance has odds of about 1 in a million, vanishingly
    // rare; a failing run means the sampler does not sample at 0.3.
    const tolerance = 0.05;
    const collector = running(receiver, 'the OTLP receiver');
    collector.clear();
    const { lines } = await withTracedApp(target, async ({ app }) => {
      for (let sent = 0; sent < requests; sent += 1) await ping(app);
    });
    // The app is closed: every access line is written, and every span exported (closing shuts the
    // tracing provider down, which sends what is queued, bounded by http.shutdownTimeout).
    // A sampled request's access line carries its trace id, and only a sampled one's: the spans
    // the receiver got must be exactly those.
    const sampledTraceIds = new Set(lines.filter((line) => line.msg === 'request served' && typeof line.traceId === 'string').map((line) => line.traceId as string));
    const spans = serverSpans(collector.spans());
    assert.equal(spans.length, sampledTraceIds.size, 'as many server spans received as requests logged as sampled: none lost on the way');
    assert.deepEqual(new Set(spans.map((span) => span.traceId)), sampledTraceIds, 'the spans received are those of the requests logged as sampled');
    const share = spans.length / requests;
    assert.ok(Math.abs(share - target) <= tolerance, `${spans.length} of ${requests} requests sampled (${share.toFixed(3)}), expected ${target} ± ${tolerance}`);
    // Each a root span: a new trace was started for every request without traceparent.
    assert.ok(
      spans.every((span) => span.parentSpanId === undefined && span.name === 'GET /v2/'),
      `root spans named GET /v2/: ${JSON.stringify(spans.slice(0, 3).map(({ name, parentSpanId }) => ({ name, parentSpanId })))}`,
    );
  });

  test('samplingProb 0 exports nothing of requests without traceparent, yet honours a sampled traceparent (flag 01)', async () => {
    const collector = running(receiver, 'the OTLP receiver');
    collector.clear();
    await withTracedApp(0, async ({ app, lines }) => {
      for (let sent = 0; sent < 200; sent += 1) await ping(app);
      // Nothing to export is never sent: no export request at all within two export intervals.
      await sleep(TWO_EXPORT_INTERVALS_MS);
      assert.deepEqual(collector.requests(), [], 'no export request at probability 0');
      assert.equal(
        lines.filter((line) => line.traceId !== undefined).length,
        0,
        'no log line names a trace id, since no request was sampled',
      );

      // Parent-based: the client decided to sample, and porthole follows, even at 0.
      const parent = traceparent(true);
      await ping(app, { traceparent: parent.header });
      const spans = serverSpans(await collector.waitForSpans((received) => received.some((span) => span.traceId === parent.traceId), 10_000));
      assert.equal(spans.length, 1, `only the request with a sampled traceparent was exported: ${spans.map((span) => span.traceId).join(', ')}`);
      assert.equal(spans[0]?.traceId, parent.traceId, 'the client trace is continued');
      assert.equal(spans[0]?.parentSpanId, parent.parentSpanId, "porthole's server span is a child of the client's span");
    });
  });

  test('samplingProb 1 follows a traceparent whose flag is 00: that request is not exported, the others are', async () => {
    const collector = running(receiver, 'the OTLP receiver');
    collector.clear();
    await withTracedApp(1, async ({ app }) => {
      const unsampled = traceparent(false);
      await ping(app, { traceparent: unsampled.header });
      // A request after it without traceparent, sampled at probability 1, goes in the same export
      // batch or a later one: once it has arrived, the unsampled request would have too, had it been exported.
      await ping(app);
      const spans = serverSpans(await collector.waitForSpans((received) => serverSpans(received).length >= 1, 10_000));
      assert.deepEqual(
        spans.filter((span) => span.traceId === unsampled.traceId),
        [],
        'the request whose client decided not to sample is not exported, even at probability 1',
      );
      assert.equal(spans.length, 1);
    });
  });
});
