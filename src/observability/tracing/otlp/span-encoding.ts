import type { Attributes, AttributeValue, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-node';
import { FIXED32, FIXED64, LENGTH_DELIMITED, ProtoWriter, VARINT } from './proto-writer.js';

/**
 * OTLP's trace messages (opentelemetry-proto, trace/v1 and common/v1) written field by field from
 * ended spans (the SDK's ReadableSpan shape, which porthole's RecordedSpan has): the field
 * numbers below are the schema's. Written straight into a ProtoWriter, without the intermediate
 * objects the library's serializers build for a whole batch.
 */

/** Span.flags: the W3C trace flags in the low byte, and whether the parent's context came from another process. */
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;
const INT64_MIN = -(2 ** 63);
const INT64_END = 2 ** 63;

function time(writer: ProtoWriter, field: number, at: HrTime): void {
  writer.tag(field, FIXED64);
  writer.fixed64Time(at[0], at[1]);
}

function stringField(writer: ProtoWriter, field: number, value: string): void {
  writer.tag(field, LENGTH_DELIMITED);
  writer.string(value);
}

function countField(writer: ProtoWriter, field: number, count: number): void {
  if (count === 0) return;
  writer.tag(field, VARINT);
  writer.varint(count);
}

/** An AnyValue: string 1, bool 2, int 3, double 4, array 5 (ArrayValue.values 1). */
function anyValue(writer: ProtoWriter, value: AttributeValue | null | undefined): void {
  if (typeof value === 'string') stringField(writer, 1, value);
  else if (typeof value === 'boolean') {
    writer.tag(2, VARINT);
    writer.varint(value ? 1 : 0);
  } else if (typeof value === 'number') {
    // An integral number is an int64 (as OpenTelemetry's own serializers have it), beyond 2^53 too.
    if (Number.isInteger(value) && value >= INT64_MIN && value < INT64_END) {
      writer.tag(3, VARINT);
      writer.int64(value);
    } else {
      writer.tag(4, FIXED64);
      writer.double(value);
    }
  } else if (Array.isArray(value)) {
    writer.tag(5, LENGTH_DELIMITED);
    const array = writer.begin();
    for (const item of value) {
      writer.tag(1, LENGTH_DELIMITED);
      const entry = writer.begin();
      anyValue(writer, item);
      writer.end(entry);
    }
    writer.end(array);
  }
  // null and undefined (an array's holes): an empty AnyValue.
}

/** Attribute keys seen, at most this many, kept already encoded (see keyField). */
const KEPT_KEYS = 512;
const encodedKeys = new Map<string, Uint8Array>();
const keyWriter = new ProtoWriter(256);

/**
 * KeyValue.key (field 1) of `key`: copied from its encoding the first time, since the same few
 * dozen keys (the semantic conventions', porthole's) make up most of what every span writes, and
 * a copy costs less than encoding them again character by character.
 */
function keyField(writer: ProtoWriter, key: string): void {
  let encoded = encodedKeys.get(key);
  if (encoded === undefined) {
    if (encodedKeys.size >= KEPT_KEYS) return stringField(writer, 1, key);
    keyWriter.truncate(0);
    stringField(keyWriter, 1, key);
    encoded = Uint8Array.from(keyWriter.bytes());
    encodedKeys.set(key, encoded);
  }
  writer.raw(encoded);
}

/** Repeated KeyValue (key 1, value 2) at `field`. */
function attributes(writer: ProtoWriter, field: number, values: Attributes): void {
  for (const key in values) {
    const value = values[key];
    if (value === undefined) continue;
    writer.tag(field, LENGTH_DELIMITED);
    const keyValue = writer.begin();
    keyField(writer, key);
    writer.tag(2, LENGTH_DELIMITED);
    const any = writer.begin();
    anyValue(writer, value);
    writer.end(any);
    writer.end(keyValue);
  }
}

function traceState(writer: ProtoWriter, field: number, context: SpanContext): void {
  const state = context.traceState?.serialize();
  if (state) stringField(writer, field, state);
}

/** Span.Event: time 1, name 2, attributes 3, dropped attributes 4. */
function event(writer: ProtoWriter, value: TimedEvent): void {
  writer.tag(11, LENGTH_DELIMITED);
  const mark = writer.begin();
  time(writer, 1, value.time);
  stringField(writer, 2, value.name);
  if (value.attributes) attributes(writer, 3, value.attributes);
  countField(writer, 4, value.droppedAttributesCount ?? 0);
  writer.end(mark);
}

/** Span.Link: trace id 1, span id 2, trace state 3, attributes 4, dropped attributes 5, flags 6. */
function link(writer: ProtoWriter, value: Link): void {
  writer.tag(13, LENGTH_DELIMITED);
  const mark = writer.begin();
  writer.tag(1, LENGTH_DELIMITED);
  writer.hexBytes(value.context.traceId);
  writer.tag(2, LENGTH_DELIMITED);
  writer.hexBytes(value.context.spanId);
  traceState(writer, 3, value.context);
  if (value.attributes) attributes(writer, 4, value.attributes);
  countField(writer, 5, value.droppedAttributesCount ?? 0);
  writer.tag(6, FIXED32);
  writer.fixed32((value.context.traceFlags & 0xff) | FLAG_HAS_IS_REMOTE | (value.context.isRemote ? FLAG_IS_REMOTE : 0));
  writer.end(mark);
}

/**
 * One span, as an entry of ScopeSpans.spans (field 2): trace id 1, span id 2, trace state 3,
 * parent span id 4, name 5, kind 6 (the API's SpanKind plus one: OTLP keeps 0 for unspecified),
 * start 7, end 8, attributes 9, dropped attributes 10, events 11, dropped events 12, links 13,
 * dropped links 14, status 15 (message 2, code 3), flags 16.
 */
export function writeSpan(writer: ProtoWriter, span: ReadableSpan): void {
  const context = span.spanContext();
  writer.tag(2, LENGTH_DELIMITED);
  const mark = writer.begin();
  writer.tag(1, LENGTH_DELIMITED);
  writer.hexBytes(context.traceId);
  writer.tag(2, LENGTH_DELIMITED);
  writer.hexBytes(context.spanId);
  traceState(writer, 3, context);
  const parent = span.parentSpanContext;
  if (parent !== undefined) {
    writer.tag(4, LENGTH_DELIMITED);
    writer.hexBytes(parent.spanId);
  }
  stringField(writer, 5, span.name);
  writer.tag(6, VARINT);
  writer.varint(span.kind + 1);
  time(writer, 7, span.startTime);
  time(writer, 8, span.endTime);
  attributes(writer, 9, span.attributes);
  countField(writer, 10, span.droppedAttributesCount);
  for (const each of span.events) event(writer, each);
  countField(writer, 12, span.droppedEventsCount);
  for (const each of span.links) link(writer, each);
  countField(writer, 14, span.droppedLinksCount);
  if (span.status.code !== 0 || span.status.message) {
    writer.tag(15, LENGTH_DELIMITED);
    const status = writer.begin();
    if (span.status.message) stringField(writer, 2, span.status.message);
    writer.tag(3, VARINT);
    writer.varint(span.status.code);
    writer.end(status);
  }
  writer.tag(16, FIXED32);
  writer.fixed32((context.traceFlags & 0xff) | FLAG_HAS_IS_REMOTE | (parent?.isRemote ? FLAG_IS_REMOTE : 0));
  writer.end(mark);
}

/** The spans of one resource and scope, already written by writeSpan. */
export interface ScopeBatch {
  scope: InstrumentationScope;
  spans: Uint8Array;
}

/**
 * ExportTraceServiceRequest (resource spans 1) for one resource: ResourceSpans has the resource 1
 * (attributes 1), its scope spans 2 (scope 1: name 1, version 2; spans 2; schema URL 3) and the
 * resource's schema URL 3.
 */
export function writeExportRequest(writer: ProtoWriter, resource: Resource, scopes: Iterable<ScopeBatch>): void {
  writer.tag(1, LENGTH_DELIMITED);
  const resourceSpans = writer.begin();
  writer.tag(1, LENGTH_DELIMITED);
  const resourceMark = writer.begin();
  attributes(writer, 1, resource.attributes);
  writer.end(resourceMark);
  for (const { scope, spans } of scopes) {
    writer.tag(2, LENGTH_DELIMITED);
    const scopeSpans = writer.begin();
    writer.tag(1, LENGTH_DELIMITED);
    const scopeMark = writer.begin();
    stringField(writer, 1, scope.name);
    if (scope.version) stringField(writer, 2, scope.version);
    writer.end(scopeMark);
    writer.raw(spans);
    if (scope.schemaUrl) stringField(writer, 3, scope.schemaUrl);
    writer.end(scopeSpans);
  }
  if (resource.schemaUrl) stringField(writer, 3, resource.schemaUrl);
  writer.end(resourceSpans);
}
