import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { freePort } from '../helpers/free-port.js';
import { startOtlpReceiver, type OtlpReceiver, type OtlpReceiverMode } from '../helpers/otlp-receiver.js';
import { cleanup, startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { exitWithin, logLinesWith, STILL_RUNNING } from '../helpers/service-process.js';
import { streamRequest } from '../helpers/stream-request.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A collector that is down, hangs, or is switched off must never cost a request anything: a real
 * porthole process (`--metrics`, tracing on at probability 1) against an OTLP/HTTP receiver of the
 * tests' own (test/helpers/otlp-receiver.ts), which stands in for Jaeger or the OpenTelemetry
 * collector (neither has a Debian package on these machines) and can refuse connections (stopped),
 * never answer ('hang'), and come back on the same port.
 */

const UNREACHABLE = 'tracing collector unreachable: spans are dropped until it answers';
const BACK = 'tracing collector takes spans again';
/** The batch processor sends every second (otel-tracing.ts); two intervals and a margin. */
const TWO_EXPORT_INTERVALS_MS = 2_500;
/** Small, so that a failed or hung export is given up quickly and the tests stay short. */
const EXPORT_TIMEOUT = '1s';
const SHUTDOWN_TIMEOUT_MS = 2_000;
/** What a graceful stop may take past http.shutdownTimeout on a busy 2-core machine: a bound, not a measurement. */
const STOP_MARGIN_MS = 2_000;
/** OTLP SpanKind SERVER. */
const SERVER = 2;
/** The OTEL_* variables that would change what these tests see, unset unless a test sets them. */
const CLEAN_OTEL_ENV: NodeJS.ProcessEnv = {
  OTEL_SDK_DISABLED: undefined,
  OTEL_TRACES_EXPORTER: undefined,
  OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
};

const portholes: PortholeProcess[] = [];
const receivers: OtlpReceiver[] = [];

after(async () => {
  await Promise.all(portholes.map((porthole) => porthole.kill9()));
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await cleanup(...portholes.map((porthole) => porthole.root));
});

async function receiver(mode: OtlpReceiverMode = 'accept'): Promise<OtlpReceiver> {
  const started = await startOtlpReceiver({ mode });
  receivers.push(started);
  return started;
}

interface TracingSettings {
  endpoint: string;
  maxQueueSize?: number;
  /** EXPORT_TIMEOUT when omitted. */
  exportTimeout?: string;
  /** SHUTDOWN_TIMEOUT_MS when omitted. */
  shutdownTimeoutMs?: number;
}

/** porthole with tracing on (every new trace sampled) and full metrics on its main port. */
async function tracedPorthole(settings: TracingSettings, env: NodeJS.ProcessEnv = {}): Promise<PortholeProcess> {
  const config = [
    'http:',
    `  shutdownTimeout: ${(settings.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS) / 1000}s`,
    'tracing:',
    '  enable: true',
    `  endpoint: ${settings.endpoint}`,
    '  samplingProb: 1',
    `  exportTimeout: ${settings.exportTimeout ?? EXPORT_TIMEOUT}`,
    ...(settings.maxQueueSize === undefined ? [] : [`  maxQueueSize: ${settings.maxQueueSize}`]),
    '',
  ].join('\n');
  const porthole = await startPorthole({ config, args: ['--metrics'], env: { ...CLEAN_OTEL_ENV, ...env } });
  portholes.push(porthole);
  return porthole;
}

/** `count` pings at once; every one must be answered 200 (bounded, so a request held by the collector fails the test). */
async function pings(porthole: PortholeProcess, count: number): Promise<void> {
  const statuses = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await fetch(`${porthole.url}/v2/`, { signal: AbortSignal.timeout(10_000) });
      await response.arrayBuffer();
      return response.status;
    }),
  );
  assert.deepEqual(
    statuses.filter((status) => status !== 200),
    [],
    'every request is answered 200 whatever the collector does',
  );
}

interface SpanCounts {
  exported: number;
  dropped: number;
}

/** porthole_tracing_spans_{exported,dropped}_total, from /metrics. */
async function spanCounts(porthole: PortholeProcess): Promise<SpanCounts> {
  const response = await fetch(`${porthole.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  const exposition = new Exposition(await response.text());
  const value = (name: string): number => {
    const found = exposition.value(name);
    if (found === undefined) throw new Error(`/metrics has no ${name}`);
    return found;
  };
  return { exported: value('porthole_tracing_spans_exported_total'), dropped: value('porthole_tracing_spans_dropped_total') };
}

/** Polls /metrics until `condition` holds of the span counts (bounded); resolves with the last counts. */
async function waitForCounts(porthole: PortholeProcess, what: string, condition: (counts: SpanCounts) => boolean, timeoutMs = 15_000): Promise<SpanCounts> {
  let last: SpanCounts = { exported: Number.NaN, dropped: Number.NaN };
  try {
    await waitFor(
      what,
      async () => {
        last = await spanCounts(porthole);
        return condition(last);
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last counts ${JSON.stringify(last)}`, { cause: err });
  }
  return last;
}

function linesSaying(porthole: PortholeProcess, message: string): Array<Record<string, unknown>> {
  return logLinesWith(porthole.stdout(), message);
}

async function waitForLine(porthole: PortholeProcess, message: string, timeoutMs = 10_000): Promise<void> {
  try {
    await waitFor(`the log line "${message}"`, () => linesSaying(porthole, message).length > 0, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${porthole.output()}`, { cause: err });
  }
}

/** SIGTERM, and a bounded wait for the exit: the shutdown timeout and a margin. */
async function stopWithin(porthole: PortholeProcess, shutdownTimeoutMs: number): Promise<number | null> {
  const boundMs = shutdownTimeoutMs + STOP_MARGIN_MS;
  const code = await exitWithin(porthole.stop(), boundMs);
  assert.ok(code !== STILL_RUNNING, `porthole was still running ${boundMs} ms after SIGTERM (http.shutdownTimeout ${shutdownTimeoutMs} ms):\n${porthole.output()}`);
  return code;
}

/** An upload whose body keeps coming for longer than any test waits: a request in flight at shutdown. */
async function uploadInFlight(porthole: PortholeProcess): Promise<void> {
  const started = await fetch(`${porthole.url}/v2/tracing/slow/blobs/uploads/`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  await started.arrayBuffer();
  assert.equal(started.status, 202);
  const location = started.headers.get('location');
  if (location === null) throw new Error('the upload has no Location');
  const target = new URL(location, porthole.url);
  const upload = streamRequest(porthole.url, {
    method: 'PATCH',
    path: `${target.pathname}${target.search}`,
    headers: { 'content-type': 'application/octet-stream' },
    pieces: Array.from({ length: 300 }, () => Buffer.from('x')),
    pauseMs: 100,
    timeoutMs: 60_000,
  });
  // Cut by the shutdown: its outcome is not what these tests look at.
  upload.response.catch(() => undefined);
  // Its first bytes are on the wire and read by porthole.
  await sleep(300);
}

describe('tracing: an unreachable, hung or disabled collector', { timeout: 120_000 }, () => {
  test('a collector that goes away: requests succeed, spans are dropped and counted, one warn line for the outage; when it is back, spans arrive again', async () => {
    const collector = await receiver();
    const porthole = await tracedPorthole({ endpoint: collector.url });
    await pings(porthole, 3);
    await collector.waitForSpans((spans) => spans.some((span) => span.kind === SERVER), 10_000);
    assert.equal(linesSaying(porthole, UNREACHABLE).length, 0, 'no warning while the collector takes spans');

    await collector.stop();
    // Several failed exports, one after the other: each round waits for the drop counter to move
    // before sending more, so that every round's spans go in a batch of their own.
    let counts = await spanCounts(porthole);
    for (let round = 0; round < 3; round += 1) {
      await pings(porthole, 5);
      const before = counts.dropped;
      counts = await waitForCounts(porthole, `spans dropped in outage round ${round + 1}`, (now) => now.dropped > before);
    }
    assert.equal(linesSaying(porthole, UNREACHABLE).length, 1, `one warn line for the whole outage, not one per batch:\n${porthole.stdout()}`);
    assert.equal(linesSaying(porthole, UNREACHABLE)[0]?.level, 'warn');

    collector.clear();
    await collector.start();
    const exportedBefore = counts.exported;
    await pings(porthole, 3);
    await collector.waitForSpans((spans) => spans.some((span) => span.kind === SERVER && span.name === 'GET /v2/'), 15_000);
    await waitForCounts(porthole, 'spans exported after the collector came back', (now) => now.exported > exportedBefore);
    await waitForLine(porthole, BACK);
    assert.equal(linesSaying(porthole, BACK).length, 1);
    assert.equal(linesSaying(porthole, UNREACHABLE).length, 1, 'still one warn line: the outage is over');
    await porthole.stop();
  });

  test('a collector that never answers: requests succeed, spans are dropped after the export timeout, and a graceful stop ends within the shutdown timeout', async () => {
    const collector = await receiver('hang');
    const porthole = await tracedPorthole({ endpoint: collector.url });
    await pings(porthole, 20);
    await waitForCounts(porthole, 'spans dropped by the hung export', (now) => now.dropped >= 1);
    assert.ok(collector.requests().length >= 1, 'the exporter did reach the hung collector');
    await pings(porthole, 20);
    // Spans still queued and an export still hanging: the stop must give up on them in time.
    const code = await stopWithin(porthole, SHUTDOWN_TIMEOUT_MS);
    assert.equal(code, 0, porthole.output());
    assert.equal(linesSaying(porthole, 'porthole stopped').length, 1);
    assert.deepEqual(collector.spans(), [], 'a collector that never answers accepted nothing');
  });

  test('a request in flight and a collector that never answers: a graceful stop still ends within the shutdown timeout', async () => {
    // The default export timeout (10s), longer than the shutdown timeout: the flush at shutdown is
    // cut by the shutdown's bound, not by the export's.
    const shutdownTimeoutMs = 3_000;
    const collector = await receiver('hang');
    const porthole = await tracedPorthole({ endpoint: collector.url, exportTimeout: '10s', shutdownTimeoutMs });
    await pings(porthole, 5);
    await waitFor('an export hanging at the collector', () => collector.requests().length >= 1, 10_000);
    await uploadInFlight(porthole);
    // The shutdown waits up to http.shutdownTimeout for the upload, and must not then give the
    // span flush a second, full shutdownTimeout of its own.
    const code = await stopWithin(porthole, shutdownTimeoutMs);
    assert.equal(code, 0, porthole.output());
  });

  test('a full export queue (maxQueueSize 10, collector hung) drops the spans of a burst of 200 requests and counts them; none is exported', async () => {
    const collector = await receiver('hang');
    const porthole = await tracedPorthole({ endpoint: collector.url, maxQueueSize: 10 });
    for (let burst = 0; burst < 10; burst += 1) await pings(porthole, 20);
    // At most 10 spans wait or are in flight; the rest are dropped at once, the 10 after the export timeout.
    const counts = await waitForCounts(porthole, 'most spans of the burst dropped', (now) => now.dropped >= 150);
    assert.equal(counts.exported, 0, 'nothing exported to a collector that never answers');
    await porthole.stop();
  });

  test('OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none, with tracing.enable true: no export request reaches the collector, and porthole serves normally', async () => {
    const killSwitches = [{ OTEL_SDK_DISABLED: 'true' }, { OTEL_TRACES_EXPORTER: 'none' }];
    // One porthole per variable, side by side, each with a collector of its own: one wait for both.
    const started = await Promise.all(
      killSwitches.map(async (env) => {
        const collector = await receiver();
        return { env, collector, porthole: await tracedPorthole({ endpoint: collector.url }, env) };
      }),
    );
    await Promise.all(started.map(({ porthole }) => pings(porthole, 10)));
    await sleep(TWO_EXPORT_INTERVALS_MS);
    for (const { env, collector, porthole } of started) {
      assert.deepEqual(collector.requests(), [], `${JSON.stringify(env)}: not one request reached the collector`);
      assert.equal(linesSaying(porthole, 'tracing enabled').length, 0, `${JSON.stringify(env)}: tracing was not started:\n${porthole.stdout()}`);
      await porthole.stop();
    }
  });

  test('no collector listening at start-up: porthole starts, serves, and logs the unreachable warning once', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}/v1/traces`;
    const porthole = await tracedPorthole({ endpoint });
    // Said at start-up, before any span exists to be dropped.
    await waitForLine(porthole, UNREACHABLE);
    await pings(porthole, 5);
    const before = (await spanCounts(porthole)).dropped;
    await pings(porthole, 5);
    await waitForCounts(porthole, 'spans dropped with no collector', (now) => now.dropped > before);
    assert.equal(linesSaying(porthole, UNREACHABLE).length, 1, `one warn line, not one per batch:\n${porthole.stdout()}`);
    await porthole.stop();
  });
});

