/**
 * porthole's own tracer (src/observability/tracing/recorder/) against what the OpenTelemetry SDK,
 * which it replaced, does: the same calls make the same spans (compared through the OTLP encoding
 * both go through), the SDK's sampling decisions, span limits, status precedence and end-of-span
 * rules, and ids valid for W3C trace context.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Span, type SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { ProtoWriter } from '../../src/observability/tracing/otlp/proto-writer.js';
import { SpanBatch } from '../../src/observability/tracing/otlp/span-batch.js';
import { RecordedSpan, SPAN_LIMITS } from '../../src/observability/tracing/recorder/recorded-span.js';
import { JOB_ATTRIBUTE, parentBasedRatio } from '../../src/observability/tracing/recorder/sampling.js';
import { SpanRecorder } from '../../src/observability/tracing/recorder/span-recorder.js';
import { SyncContextManager } from '../../src/observability/tracing/sync-context.js';
import { decodeProtobufExport } from '../helpers/otlp-protobuf.js';
import type { ReceivedSpan } from '../helpers/otlp-receiver.js';
import { recordSpans, recorderTracers, sdkTracers } from '../helpers/sample-spans.js';

// porthole's context manager, as tracing sets it up (otel-tracing.ts).
context.setGlobalContextManager(new SyncContextManager());
const resource = resourceFromAttributes({ 'service.name': 'porthole-test' });

function recorderAt(probability: number): { recorder: SpanRecorder; ended: ReadableSpan[] } {
  const ended: ReadableSpan[] = [];
  const recorder = new SpanRecorder({ resource, scope: { name: 'porthole', version: 'test' }, sampled: parentBasedRatio(probability), sink: { onEnd: (span) => ended.push(span) } });
  return { recorder, ended };
}

function encoded(spans: readonly ReadableSpan[]): ReceivedSpan[] {
  const batch = new SpanBatch();
  for (const span of spans) batch.add(span);
  return decodeProtobufExport(Buffer.from(batch.body(new ProtoWriter())));
}

/** What a span is, without what differs from run to run (its random ids and the times taken from the clock). */
function shapeOf(span: ReceivedSpan, all: ReceivedSpan[]) {
  const nameOf = (spanId: string | undefined) => all.find((other) => other.spanId === spanId)?.name;
  return {
    name: span.name,
    kind: span.kind,
    parent: span.parentSpanId ? (nameOf(span.parentSpanId) ?? 'remote') : undefined,
    flags: span.flags,
    traceState: span.traceState,
    attributes: span.attributes,
    events: span.events.map((event) => ({ name: event.name, attributes: { ...event.attributes, 'exception.stacktrace': undefined } })),
    links: span.links.map((link) => ({ traceState: link.traceState, attributes: link.attributes })),
    status: span.status,
    resource: span.resource,
    scope: [span.scopeName, span.scopeVersion],
  };
}

function remoteParent(traceFlags: TraceFlags): SpanContext {
  return { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags, isRemote: true, traceState: new TraceState('vendor=a1') };
}

describe("porthole's tracer", () => {
  test('the same calls make the same spans as the OpenTelemetry SDK, and its spans encode as the OpenTelemetry serializer writes them', () => {
    const sdk = encoded(recordSpans(sdkTracers()));
    const recorded = recordSpans(recorderTracers());
    const ours = encoded(recorded);
    assert.equal(ours.length, sdk.length);
    assert.deepEqual(
      ours.map((span) => shapeOf(span, ours)),
      sdk.map((span) => shapeOf(span, sdk)),
    );
    // The oracle of otlp-span-encoding.test.ts, here for spans of porthole's tracer.
    const theirs = decodeProtobufExport(ProtobufTraceSerializer.serializeRequest(recorded) ?? new Uint8Array());
    const bySpanId = (spans: ReceivedSpan[]) => [...spans].sort((a, b) => a.spanId.localeCompare(b.spanId));
    assert.deepEqual(bySpanId(ours), bySpanId(theirs));
  });

  test('ids: 32 and 16 lowercase hex digits, never all zero, all different; a child keeps its trace', () => {
    const { recorder } = recorderAt(1);
    const seen = new Set<string>();
    for (let index = 0; index < 2_000; index++) {
      const span = recorder.startSpan('root', {}, ROOT_CONTEXT);
      const child = recorder.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, span));
      const { traceId, spanId } = span.spanContext();
      assert.match(traceId, /^[0-9a-f]{32}$/);
      assert.match(spanId, /^[0-9a-f]{16}$/);
      assert.ok(trace.isSpanContextValid(span.spanContext()));
      assert.equal(child.spanContext().traceId, traceId);
      for (const id of [traceId, spanId, child.spanContext().spanId]) {
        assert.ok(!seen.has(id), `${id} drawn twice`);
        seen.add(id);
      }
    }
  });

  test('sampling: a new trace at the probability (0.3 of 20,000 within 0.02), none at 0, all at 1', () => {
    for (const probability of [0, 0.3, 1]) {
      const { recorder } = recorderAt(probability);
      let sampled = 0;
      for (let index = 0; index < 20_000; index++) {
        const span = recorder.startSpan('GET', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
        const recording = span.isRecording();
        assert.equal(recording, (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0, 'recorded exactly when sampled');
        if (recording) sampled += 1;
      }
      assert.ok(Math.abs(sampled / 20_000 - probability) <= 0.02, `${sampled} of 20,000 sampled at ${probability}`);
    }
  });

  test('startRootSpanIfSampled: a new trace at the probability, as startSpan samples one, and nothing at all for a trace it does not take', () => {
    for (const probability of [0, 0.3, 1]) {
      const { recorder, ended } = recorderAt(probability);
      let sampled = 0;
      for (let index = 0; index < 20_000; index++) {
        const span = recorder.startRootSpanIfSampled('GET', { kind: SpanKind.SERVER });
        if (span === undefined) continue;
        sampled += 1;
        assert.ok(span.isRecording() && (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0, 'what it makes is recorded and sampled');
        assert.ok(parentBasedRatio(probability)(undefined, span.spanContext().traceId, undefined), 'taken by its trace id, as startSpan decides');
        span.end();
      }
      assert.ok(Math.abs(sampled / 20_000 - probability) <= 0.02, `${sampled} of 20,000 sampled at ${probability}`);
      assert.equal(ended.length, sampled, 'every span made reaches the sink once ended');
    }
    const { recorder, ended } = recorderAt(1);
    const span = recorder.startRootSpanIfSampled('GET', { kind: SpanKind.SERVER, startTime: 1_700_000_000_123 });
    span?.end();
    const [received] = encoded(ended);
    assert.ok(received !== undefined);
    assert.equal(received.kind, 2, 'a server span (OTLP SPAN_KIND_SERVER)');
    assert.equal(received.parentSpanId, undefined, 'a root');
    assert.equal(received.startTimeUnixNano, 1_700_000_000_123_000_000n, 'its start as given');
  });

  test('sampling by trace id: the same id gets the same decision in every process sampling at the same probability', () => {
    const decide = parentBasedRatio(0.5);
    assert.equal(decide(undefined, '4bf92f3577b34da6a3ce929d00000000', undefined), true);
    assert.equal(decide(undefined, '4bf92f3577b34da6a3ce929dffffffff', undefined), false);
    assert.equal(decide(undefined, '4bf92f3577b34da6a3ce929d7fffffff', undefined), true);
    assert.equal(decide(undefined, '4bf92f3577b34da6a3ce929d80000000', undefined), false);
  });

  test("a caller's decision is followed both ways, whatever the probability; its trace id and tracestate go on", () => {
    for (const [probability, flags] of [
      [0, TraceFlags.SAMPLED],
      [1, TraceFlags.NONE],
    ] as const) {
      const { recorder, ended } = recorderAt(probability);
      const parent = remoteParent(flags);
      const span = recorder.startSpan('GET', { kind: SpanKind.SERVER }, trace.setSpanContext(ROOT_CONTEXT, parent));
      assert.equal(span.isRecording(), flags === TraceFlags.SAMPLED);
      assert.equal(span.spanContext().traceFlags, flags);
      assert.equal(span.spanContext().traceId, parent.traceId);
      assert.notEqual(span.spanContext().spanId, parent.spanId);
      assert.equal(span.spanContext().traceState?.serialize(), 'vendor=a1');
      span.end();
      assert.equal(ended.length, flags === TraceFlags.SAMPLED ? 1 : 0, 'only a recorded span ends into the export');
      if (span instanceof RecordedSpan) assert.equal(span.parentSpanContext?.spanId, parent.spanId);
    }
  });

  test('a batch job is recorded at probability 0; its children follow it; root ignores the context', () => {
    const { recorder } = recorderAt(0);
    const job = recorder.startSpan('job gc', { attributes: { [JOB_ATTRIBUTE]: 'gc' } }, ROOT_CONTEXT);
    assert.ok(job.isRecording());
    assert.ok(recorder.startSpan('storage.list', {}, trace.setSpan(ROOT_CONTEXT, job)).isRecording());
    const root = recorder.startSpan('GET', { root: true }, trace.setSpan(ROOT_CONTEXT, job));
    assert.ok(!root.isRecording(), 'a new trace, sampled at 0');
    assert.notEqual(root.spanContext().traceId, job.spanContext().traceId);
  });

  test('attributes: invalid values are left out, arrays copied, and past 128 keys new ones are counted as dropped', () => {
    const { recorder } = recorderAt(1);
    const tags = ['a', 'b'];
    const span = recorder.startSpan('s', { attributes: { ok: 1, none: undefined, tags } }, ROOT_CONTEXT) as RecordedSpan;
    tags.push('c');
    span.setAttributes({ object: {} as unknown as string, mixed: ['a', 1] as unknown as string[], '': 'no key', nothing: null as unknown as string });
    span.setAttribute('flag', true);
    assert.deepEqual(span.attributes, { ok: 1, tags: ['a', 'b'], flag: true });
    for (let index = 0; index < SPAN_LIMITS.attributes; index++) span.setAttribute(`key.${index}`, index);
    assert.equal(Object.keys(span.attributes).length, SPAN_LIMITS.attributes);
    assert.equal(span.droppedAttributesCount, 3);
    span.setAttribute('ok', 2);
    assert.equal(span.attributes.ok, 2, 'a key already held may change at the limit');
  });

  test('takeAttributes keeps a handed-over object of valid values, and copies (checking) anything else', () => {
    const { recorder } = recorderAt(1);
    const given = { 'http.route': '/v2/', 'http.response.status_code': 200, 'porthole.aborted': true };
    const kept = recorder.startSpan('s', {}, ROOT_CONTEXT) as RecordedSpan;
    kept.takeAttributes(given);
    assert.equal(kept.attributes, given, 'kept, not copied');
    kept.setAttribute('later', 1);
    assert.equal(Object.keys(kept.attributes).length, 4, 'and counted: later attributes add to it');
    const withArray = recorder.startSpan('s', {}, ROOT_CONTEXT) as RecordedSpan;
    const tags = ['a'];
    withArray.takeAttributes({ tags, bad: {} as unknown as string });
    tags.push('b');
    assert.deepEqual(withArray.attributes, { tags: ['a'] }, 'an array is copied and an invalid value left out, as setAttributes does');
    const started = recorder.startSpan('s', { attributes: { first: 1 } }, ROOT_CONTEXT) as RecordedSpan;
    started.takeAttributes({ second: 2 });
    assert.deepEqual(started.attributes, { first: 1, second: 2 }, 'a span that has attributes adds to them');
  });

  test('status: UNSET changes nothing, OK is final, a message belongs to an error only', () => {
    const { recorder } = recorderAt(1);
    const span = recorder.startSpan('s', {}, ROOT_CONTEXT) as RecordedSpan;
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'first' });
    span.setStatus({ code: SpanStatusCode.UNSET });
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR, message: 'first' });
    span.setStatus({ code: SpanStatusCode.OK, message: 'not kept' });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'too late' });
    assert.deepEqual(span.status, { code: SpanStatusCode.OK });
  });

  test('events past 128 push out the oldest; links past 128 are dropped; both counted', () => {
    const { recorder } = recorderAt(1);
    const span = recorder.startSpan('s', {}, ROOT_CONTEXT) as RecordedSpan;
    for (let index = 0; index < SPAN_LIMITS.events + 2; index++) span.addEvent(`event ${index}`, { index });
    assert.equal(span.events.length, SPAN_LIMITS.events);
    assert.equal(span.events[0]?.name, 'event 2');
    assert.equal(span.droppedEventsCount, 2);
    const context = remoteParent(TraceFlags.SAMPLED);
    for (let index = 0; index < SPAN_LIMITS.links + 1; index++) span.addLink({ context, attributes: { index } });
    assert.equal(span.links.length, SPAN_LIMITS.links);
    assert.equal(span.droppedLinksCount, 1);
  });

  test('an exception becomes an event with its type, message and stack', () => {
    const { recorder } = recorderAt(1);
    const span = recorder.startSpan('s', {}, ROOT_CONTEXT) as RecordedSpan;
    const failure = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    span.recordException(failure);
    span.recordException('plain words');
    span.recordException({ name: '', message: '' });
    assert.deepEqual(
      span.events.map((event) => event.attributes),
      [{ 'exception.type': 'ENOSPC', 'exception.message': 'disk full', 'exception.stacktrace': failure.stack }, { 'exception.message': 'plain words' }],
    );
  });

  test('ended once: a second end and later changes are ignored; an end before the start gives no length', () => {
    const { recorder, ended } = recorderAt(1);
    const span = recorder.startSpan('s', { startTime: Date.now() }, ROOT_CONTEXT) as RecordedSpan;
    span.end(Date.now() - 60_000);
    span.end();
    span.setAttribute('late', 1);
    span.updateName('renamed');
    span.addEvent('late');
    span.setStatus({ code: SpanStatusCode.ERROR });
    assert.equal(ended.length, 1);
    assert.equal(span.isRecording(), false);
    assert.deepEqual(span.endTime, span.startTime);
    assert.deepEqual(span.duration, [0, 0]);
    assert.equal(span.name, 's');
    assert.deepEqual(span.attributes, {});
    assert.equal(span.events.length, 0);
    assert.equal(span.status.code, SpanStatusCode.UNSET);
  });

  test('times: the clock agrees with Date.now(), and a start given in epoch milliseconds is kept to the nanosecond', () => {
    const { recorder } = recorderAt(1);
    const before = Date.now();
    const span = recorder.startSpan('s', {}, ROOT_CONTEXT) as RecordedSpan;
    const after = Date.now();
    const startMs = span.startTime[0] * 1000 + span.startTime[1] / 1e6;
    assert.ok(startMs >= before - 5 && startMs <= after + 5, `${startMs} within [${before}, ${after}]`);
    assert.ok(Number.isInteger(span.startTime[1]) && span.startTime[1] >= 0 && span.startTime[1] < 1e9);
    const given = recorder.startSpan('t', { startTime: 1_700_000_000_123.5 }, ROOT_CONTEXT) as RecordedSpan;
    assert.deepEqual(given.startTime, [1_700_000_000, 123_500_000]);
  });

  test('times after the start: measured from it on the monotonic clock, or, for a start the caller gave, taken from the wall clock', async () => {
    const { recorder } = recorderAt(1);
    const measured = recorder.startSpan('measured', {}, ROOT_CONTEXT) as RecordedSpan;
    await new Promise((resolve) => setTimeout(resolve, 30));
    measured.end();
    const lengthMs = measured.duration[0] * 1000 + measured.duration[1] / 1e6;
    assert.ok(lengthMs >= 29 && lengthMs < 1_000, `a 30 ms span measured ${lengthMs} ms`);
    const past = recorder.startSpan('past', { startTime: Date.now() - 5_000 }, ROOT_CONTEXT) as RecordedSpan;
    past.end();
    const pastMs = past.duration[0] * 1000 + past.duration[1] / 1e6;
    assert.ok(pastMs >= 4_990 && pastMs < 6_000, `a span dated 5 s back lasts ${pastMs} ms`);
    const endless = recorder.startSpan('null end', {}, ROOT_CONTEXT) as RecordedSpan;
    endless.end(null as unknown as undefined);
    assert.equal(endless.ended, true, 'end(null) ends the span now, as the SDK does');
  });

  test('startActiveSpan runs its function with the span current, and returns what it returns', () => {
    const { recorder } = recorderAt(1);
    let inside: Span | undefined;
    const result = recorder.startActiveSpan('active', (span) => {
      inside = trace.getActiveSpan();
      span.end();
      return 42;
    });
    assert.equal(result, 42);
    assert.ok(inside !== undefined && inside.spanContext().spanId.length === 16, 'the span is current inside');
    assert.equal(trace.getActiveSpan(), undefined, 'and only inside');
  });
});
