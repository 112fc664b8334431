/**
 * The floor under tracing's cost at samplingProb 1: what a tracer and porthole's OTLP/HTTP export
 * (span-export.ts: spans encoded to protobuf in the turn they end, batches POSTed by
 * otlp/http-sender.ts) alone cost for the spans of one manifest GET, with nothing else of porthole
 * (no server, no hooks, no store decorators). Run as its own process (`node otel-floor.js SINK_URL
 * RATE SECONDS MODE`), pinned to the server's core like porthole, it makes RATE "requests" a
 * second for SECONDS, each a server span with the attributes porthole's server spans carry for a
 * manifest GET by tag and one `storage.getManifest` child, batched and exported as porthole does
 * (same batch sizes, same export code, same kind of collector): in mode `recorder` made by
 * porthole's own tracer (recorder/span-recorder.ts), in mode `sdk` by the OpenTelemetry SDK's
 * (which porthole used before), in mode `idle` the same pacing with no spans, whose own cost is
 * taken off. It prints the CPU time per request as JSON.
 *
 * A floor, not an estimate: in a tight loop a tracer's code and data stay in the caches, which
 * they do not between the work of real requests.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT_CONTEXT, SpanKind, trace, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-node';
import { createLogger } from '../../src/observability/logger.js';
import { OtlpHttpSender } from '../../src/observability/tracing/otlp/http-sender.js';
import { parentBasedRatio } from '../../src/observability/tracing/recorder/sampling.js';
import { SpanRecorder } from '../../src/observability/tracing/recorder/span-recorder.js';
import { EncodedSpanQueue, EXPORT_BATCH_SPANS, EXPORT_DELAY_MS } from '../../src/observability/tracing/span-export.js';
import { pinProcess } from './cpu-pinning.js';

type FloorMode = 'sdk' | 'recorder' | 'idle';

/** How often the paced loop wakes: requests arrive in small bunches, as from 16 connections. */
const TICK_MS = 10;
/** Paced but not measured first: the JIT warms up and the first exports are sent. */
const WARM_UP_MS = 1_000;

function queueFor(sinkUrl: string): EncodedSpanQueue {
  return new EncodedSpanQueue({
    sender: new OtlpHttpSender(new URL(sinkUrl), {}, 10_000, 'porthole/floor'),
    counts: { exported: () => undefined, dropped: () => undefined },
    log: createLogger({ level: 'warn' }, process.stderr),
    endpoint: sinkUrl,
    maxQueueSize: 2048,
    maxBatchSize: EXPORT_BATCH_SPANS,
    delayMs: EXPORT_DELAY_MS,
  });
}

/** The OpenTelemetry SDK's tracer (mode sdk) or porthole's own (mode recorder), over the same export. */
function tracerFor(sinkUrl: string, mode: FloorMode): { tracer: Tracer; flush(): Promise<void>; shutdown(): Promise<void> } {
  const resource = resourceFromAttributes({ 'service.name': 'porthole', 'service.version': 'floor', 'service.instance.id': `floor:${process.pid}` });
  const queue = queueFor(sinkUrl);
  if (mode === 'sdk') {
    const provider = new NodeTracerProvider({ resource, sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }), spanProcessors: [queue] });
    return { tracer: provider.getTracer('porthole', 'floor'), flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
  }
  const tracer = new SpanRecorder({ resource, scope: { name: 'porthole', version: 'floor' }, sampled: parentBasedRatio(1), sink: queue });
  return { tracer, flush: () => queue.forceFlush(), shutdown: () => queue.shutdown() };
}

/** The spans of one manifest GET by tag, as porthole makes them (server-spans.ts, traced-store.ts). */
function tracedRequest(tracer: Tracer, index: number): void {
  const server = tracer.startSpan('GET', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
  const child = tracer.startSpan('storage.getManifest', { attributes: { 'porthole.repo': 'bench/app', 'porthole.reference': 'v1' } }, trace.setSpan(ROOT_CONTEXT, server));
  child.end();
  server.updateName('GET /v2/:name/manifests/:reference');
  server.setAttributes({
    'http.request.method': 'GET',
    'url.path': '/v2/bench/app/manifests/v1',
    'url.scheme': 'http',
    'client.address': '127.0.0.1',
    'network.protocol.version': '1.1',
    'user_agent.original': 'wrk',
    'http.route': '/v2/:name/manifests/:reference',
    'http.response.status_code': 200,
    'http.request.body.size': 0,
    'http.response.body.size': 400 + (index % 3),
    'porthole.action': 'pull',
    'porthole.repo': 'bench/app',
    'porthole.reference': 'v1',
  });
  server.end();
}

async function runFloor(sinkUrl: string, rate: number, seconds: number, mode: FloorMode): Promise<{ cpuMicros: number; requests: number }> {
  const { tracer, flush, shutdown } = tracerFor(sinkUrl, mode);
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
  let made = 0;
  let measuredFrom = 0;
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      if (cpuAtStart === undefined && elapsed >= WARM_UP_MS) {
        cpuAtStart = process.cpuUsage();
        measuredFrom = made;
      }
      if (elapsed >= WARM_UP_MS + seconds * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (let i = 0; i < perTick; i += 1) {
        if (mode !== 'idle') tracedRequest(tracer, made);
        made += 1;
      }
    }, TICK_MS);
  });
  // What was made in the measured window is exported within it, or now: its cost counts too.
  await flush();
  const cpu = process.cpuUsage(cpuAtStart);
  await shutdown();
  return { cpuMicros: (cpu.user + cpu.system) / (made - measuredFrom), requests: made - measuredFrom };
}

/** Runs the floor in a process of its own on `cpu`, and returns its CPU microseconds per request. */
export function measureOtelFloor(sinkUrl: string, options: { rate: number; seconds: number; mode: FloorMode; cpu?: number }): Promise<number> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), sinkUrl, String(options.rate), String(options.seconds), options.mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (options.cpu !== undefined && child.pid !== undefined) pinProcess(child.pid, options.cpu);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve((JSON.parse(out) as { cpuMicros: number }).cpuMicros);
      } catch (err) {
        reject(new Error(`the OpenTelemetry floor run failed (${(err as Error).message}): ${out}`));
      }
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [sinkUrl, rate, seconds, mode] = process.argv.slice(2);
  if (!sinkUrl || (mode !== 'sdk' && mode !== 'recorder' && mode !== 'idle')) throw new Error('usage: otel-floor.js SINK_URL RATE SECONDS sdk|recorder|idle');
  const result = await runFloor(sinkUrl, Number(rate), Number(seconds), mode);
  process.stdout.write(JSON.stringify(result));
}
