import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { logLines, type LogLine } from '../helpers/log-lines.js';
import type { ReceivedSpan } from '../helpers/otlp-receiver.js';
import type { PortholeProcess } from '../helpers/porthole-process.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * What the tracing tests share: W3C trace context as a client writes it, and ways to find spans
 * and log lines. The collector in these tests is test/helpers/otlp-receiver.ts, an OTLP/HTTP
 * receiver that decodes what porthole's real exporter sends; neither Jaeger nor the OpenTelemetry
 * collector has a Debian package on these machines.
 */

/** OTLP SpanKind values the tests look for. */
export const SPAN_KIND = { internal: 1, server: 2 } as const;
/** OTLP status code of an error. */
export const STATUS_ERROR = 2;

/** Every bounded wait of these tests: porthole exports a batch every second. */
export const SPAN_WAIT_MS = 10_000;

/** The porthole flags that turn tracing on, sending to `endpoint` at probability `samplingProb`. */
export function tracingArgs(endpoint: string, samplingProb: number): string[] {
  return ['--tracing', '--tracing-endpoint', endpoint, '--sampling-prob', String(samplingProb)];
}

export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

export function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

/** A W3C `traceparent` header value (version 00). */
export function traceparent(traceId: string, parentSpanId: string, sampled: boolean): string {
  return `00-${traceId}-${parentSpanId}-${sampled ? '01' : '00'}`;
}

/** A client's own span, as a traceparent names it: new ids, sampled unless said otherwise. */
export function clientSpan(sampled = true): { traceId: string; spanId: string; header: string } {
  const traceId = newTraceId();
  const spanId = newSpanId();
  return { traceId, spanId, header: traceparent(traceId, spanId, sampled) };
}

export function isServerSpan(span: ReceivedSpan): boolean {
  return span.kind === SPAN_KIND.server;
}

/** The spans whose parent is `parent` (same trace, parentSpanId = its spanId). */
export function childrenOf(spans: readonly ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return spans.filter((span) => span.traceId === parent.traceId && span.parentSpanId === parent.spanId);
}

/** The one span that `matches`, failing with the names of all spans seen when there is none or more. */
export function onlySpan(spans: readonly ReceivedSpan[], matches: (span: ReceivedSpan) => boolean, what: string): ReceivedSpan {
  const found = spans.filter(matches);
  assert.equal(found.length, 1, `exactly one span for ${what}; found ${found.length}: ${describeSpans(found.length > 0 ? found : spans)}`);
  return found[0] as ReceivedSpan;
}

/** The one child of `parent` named `name`. */
export function onlyChild(spans: readonly ReceivedSpan[], parent: ReceivedSpan, name: string): ReceivedSpan {
  return onlySpan(childrenOf(spans, parent), (span) => span.name === name, `${name} under ${parent.name} ${parent.spanId}`);
}

/** Whether `span` descends from `ancestor`, following parentSpanId within its trace. */
export function descendsFrom(spans: readonly ReceivedSpan[], span: ReceivedSpan, ancestor: ReceivedSpan): boolean {
  if (span.traceId !== ancestor.traceId) return false;
  const byId = new Map(spans.filter((candidate) => candidate.traceId === span.traceId).map((candidate) => [candidate.spanId, candidate]));
  let current = span;
  while (current.parentSpanId !== undefined) {
    if (current.parentSpanId === ancestor.spanId) return true;
    const parent = byId.get(current.parentSpanId);
    if (parent === undefined) return false;
    current = parent;
  }
  return false;
}

/** Short, for failure messages. */
export function describeSpans(spans: readonly ReceivedSpan[]): string {
  return spans.map((span) => `${span.name} [${span.traceId.slice(0, 8)}/${span.spanId} <- ${span.parentSpanId ?? 'root'}]`).join(', ') || 'none';
}

/** The attribute as a string, failing when it is missing or of another type. */
export function stringAttribute(span: ReceivedSpan, key: string): string {
  const value = span.attributes[key];
  assert.equal(typeof value, 'string', `${span.name} has ${key} as a string: ${JSON.stringify(span.attributes)}`);
  return value as string;
}

/** porthole's "request served" lines on stdout, parsed. */
export function accessLines(porthole: PortholeProcess): LogLine[] {
  return logLines(porthole.stdout()).filter((line) => line.msg === 'request served');
}

/** Waits (bounded) for the one access line that `matches`: lines are written once a request is done. */
export async function accessLineOf(porthole: PortholeProcess, matches: (line: LogLine) => boolean, what: string): Promise<LogLine> {
  await waitFor(`the access line of ${what}`, () => accessLines(porthole).some(matches), SPAN_WAIT_MS);
  const found = accessLines(porthole).filter(matches);
  assert.equal(found.length, 1, `exactly one access line for ${what}: ${JSON.stringify(found)}`);
  return found[0] as LogLine;
}
