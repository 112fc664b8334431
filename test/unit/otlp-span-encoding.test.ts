/**
 * porthole's OTLP/protobuf encoding of spans (src/observability/tracing/otlp/), against the
 * OpenTelemetry project's own protobuf serializer (@opentelemetry/otlp-transformer, pinned) as the
 * oracle: the same SDK spans (every kind, events, links, statuses, tracestates, every attribute
 * type, two resources, three scopes) written by both and read back by the test receiver's
 * decoder must be the same spans. Then what only porthole's batch does: spans added one by one
 * as they end, grouped by resource and scope, and a span the encoding refuses taken back whole.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { ProtoWriter } from '../../src/observability/tracing/otlp/proto-writer.js';
import { SpanBatch, WriterPool } from '../../src/observability/tracing/otlp/span-batch.js';
import { decodeProtobufExport } from '../helpers/otlp-protobuf.js';
import type { ReceivedSpan } from '../helpers/otlp-receiver.js';
import { recordSpans, serverAttributes } from '../helpers/sample-spans.js';

function portholeEncoding(spans: readonly ReadableSpan[]): Buffer {
  const batch = new SpanBatch();
  for (const span of spans) batch.add(span);
  assert.equal(batch.count, spans.length);
  return Buffer.from(batch.body(new ProtoWriter()));
}

function byId(spans: ReceivedSpan[]): ReceivedSpan[] {
  return [...spans].sort((a, b) => a.spanId.localeCompare(b.spanId));
}

describe('OTLP/protobuf encoding of spans', () => {
  test('the same spans as the OpenTelemetry serializer writes, field for field', () => {
    const spans = recordSpans();
    const ours = decodeProtobufExport(portholeEncoding(spans));
    const theirs = decodeProtobufExport(ProtobufTraceSerializer.serializeRequest(spans) ?? new Uint8Array());
    assert.equal(ours.length, spans.length);
    assert.deepEqual(byId(ours), byId(theirs));
  });

  test('what the comparison covers: a server span with every attribute type, an error with its exception event, a link', () => {
    const spans = decodeProtobufExport(portholeEncoding(recordSpans()));
    const server = spans.find((span) => span.name === 'GET /v2/:name/manifests/:reference');
    assert.ok(server);
    assert.equal(server.kind, 2);
    assert.equal(server.attributes['porthole.note'], serverAttributes['porthole.note']);
    assert.equal(server.attributes['porthole.negative'], -42);
    assert.equal(server.attributes['porthole.wide'], BigInt(2 ** 53 + 2));
    assert.equal(server.attributes['porthole.ratio'], 0.5);
    assert.deepEqual(server.attributes['porthole.tags'], ['latest', 'v1']);
    assert.equal((server.attributes['porthole.long'] as string).length, 70_000);
    assert.equal(server.flags & 0x300, 0x300, 'its parent came from another process');
    const client = spans.find((span) => span.name === 'proxy.fetchManifest');
    assert.ok(client);
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(client.status.code, 2);
    assert.equal(client.status.message, 'upstream 503: café ✓');
    assert.equal(client.events[0]?.name, 'exception');
    assert.equal(client.links.length, 2);
    assert.deepEqual(new Set(spans.map((span) => span.resource['service.name'])), new Set(['porthole', 'porthole-worker']));
    assert.deepEqual(new Set(spans.map((span) => span.scopeName)), new Set(['porthole', 'porthole.storage', 'porthole.jobs']));
  });

  test('spans of one scope stay together whatever order they end in, each counted once', () => {
    const spans = recordSpans();
    // Interleave the scopes: the batch groups them, so each scope's spans keep their own order.
    const shuffled = [...spans].sort((a, b) => a.instrumentationScope.name.length - b.instrumentationScope.name.length || 0);
    const decoded = decodeProtobufExport(portholeEncoding(shuffled));
    assert.equal(decoded.length, spans.length);
    const scopesInOrder = decoded.map((span) => `${span.resource['service.name']}/${span.scopeName}`);
    const runs = scopesInOrder.filter((scope, index) => index === 0 || scope !== scopesInOrder[index - 1]);
    assert.equal(new Set(runs).size, runs.length, `each resource and scope once: ${runs.join(', ')}`);
  });

  test('batches after the first reuse the pool\'s writers and the request writer, and still encode right', () => {
    const spans = recordSpans();
    const pool = new WriterPool();
    const request = new ProtoWriter(16);
    const expected = byId(decodeProtobufExport(ProtobufTraceSerializer.serializeRequest(spans) ?? new Uint8Array()));
    for (let round = 0; round < 3; round += 1) {
      const batch = new SpanBatch(pool);
      for (const span of round === 1 ? spans.slice(0, 3) : spans) batch.add(span);
      const decoded = byId(decodeProtobufExport(batch.body(request)));
      if (round === 1) assert.equal(decoded.length, 3);
      else assert.deepEqual(decoded, expected, `round ${round}`);
    }
  });

  test('a span the encoding refuses is taken back whole: the batch holds the others, intact', () => {
    const spans = recordSpans().slice(0, 5);
    const batch = new SpanBatch();
    batch.add(spans[0] as ReadableSpan);
    const broken = Object.create(spans[1] as object, { spanContext: { value: () => ({ ...(spans[1] as ReadableSpan).spanContext(), spanId: 'not-hex!' }) } }) as ReadableSpan;
    assert.throws(() => batch.add(broken), /not an id in hex/);
    for (const span of spans.slice(2)) batch.add(span);
    assert.equal(batch.count, 4);
    const decoded = decodeProtobufExport(batch.body(new ProtoWriter()));
    assert.deepEqual(
      decoded.map((span) => span.spanId).sort(),
      [spans[0], ...spans.slice(2)].map((span) => (span as ReadableSpan).spanContext().spanId).sort(),
    );
  });
});
