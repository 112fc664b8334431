import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { bindStore } from '../../src/observability/tracing/bound-store.js';
import { OtelScope, type ScopeParts } from '../../src/observability/tracing/otel-scope.js';
import { SyncContextManager } from '../../src/observability/tracing/sync-context.js';

// The real SDK, its spans kept in memory: what porthole's scopes and bound stores make of them.
context.setGlobalContextManager(new SyncContextManager());
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const parts: ScopeParts = { tracer: provider.getTracer('test'), propagator: new W3CTraceContextPropagator() };

/** A store as porthole's traced store is: it takes the current context when called, and uses it after its awaits. */
class SlowStore {
  readonly kind = 'slow';
  async read(name: string, delayMs: number): Promise<string> {
    const here = new OtelScope(context.active(), parts);
    await sleep(delayMs);
    here.startSpan(`read ${name}`).end();
    return name;
  }
}

/** A request's span (left open: an ended span records no children) and its place. */
function requestScope(name: string): { scope: OtelScope; spanId: string } {
  const span = parts.tracer.startSpan(name, {}, ROOT_CONTEXT);
  return { scope: new OtelScope(trace.setSpan(ROOT_CONTEXT, span), parts), spanId: span.spanContext().spanId };
}

describe('trace scopes without AsyncLocalStorage', () => {
  it('interleaved requests: each bound store\'s work, before and after awaits, is a child of its own request', async () => {
    exporter.reset();
    const store = new SlowStore();
    const a = requestScope('request a');
    const b = requestScope('request b');
    const storeA = bindStore(store, a.scope);
    const storeB = bindStore(store, b.scope);
    assert.equal(storeA.kind, 'slow', 'properties other than methods are the store\'s');
    await Promise.all([
      (async () => {
        await storeA.read('a1', 20);
        await storeA.read('a2', 1);
      })(),
      (async () => {
        await storeB.read('b1', 5);
        await sleep(10);
        await storeB.read('b2', 15);
      })(),
    ]);
    const parentOf = new Map(exporter.getFinishedSpans().map((span) => [span.name, span.parentSpanContext?.spanId]));
    assert.equal(parentOf.get('read a1'), a.spanId);
    assert.equal(parentOf.get('read a2'), a.spanId);
    assert.equal(parentOf.get('read b1'), b.spanId);
    assert.equal(parentOf.get('read b2'), b.spanId);
  });

  it('the current context lasts for the synchronous call only, so nothing leaks into later work', async () => {
    const { scope } = requestScope('request c');
    const seen = await scope.run(async () => {
      const before = trace.getSpan(context.active());
      await sleep(1);
      return { before, after: trace.getSpan(context.active()) };
    });
    assert.ok(seen.before, 'inside run, the request span is current');
    assert.equal(seen.after, undefined, 'after an await, nothing is current');
    assert.equal(trace.getSpan(context.active()), undefined);
  });

  it('an unsampled caller trace is carried on (traceparent, flag 00) without any span being made', async () => {
    exporter.reset();
    const unsampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE });
    const scope = new OtelScope(trace.setSpan(ROOT_CONTEXT, unsampled), parts);
    assert.equal(scope.recording, false);
    const child = scope.startSpan('proxy.fetchManifest');
    const headers = await scope.span('proxy.token', {}, async (span) => {
      await sleep(1);
      return span.scope.outgoingHeaders();
    });
    assert.equal(child.scope.outgoingHeaders().traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00');
    assert.equal(headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00');
    assert.equal(exporter.getFinishedSpans().length, 0);
  });
});
