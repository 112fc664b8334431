import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { linkedSpanId, linkedTraceId, recordSpans, remoteSpanId, remoteTraceId, serverAttributes } from '../helpers/sample-spans.js';
import { decodeExport, startOtlpReceiver, type OtlpAttributes, type OtlpReceiver, type OtlpValue, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { waitFor } from '../helpers/wait-for.js';

const traceId = '5b8efff798038103d269b633813fc60c';
const rootSpanId = 'eee19b7ec3c1b174';
const childSpanId = 'a1b2c3d4e5f60718';

/** An ExportTraceServiceRequest written by hand after the OTLP/JSON format, shaped like the JS exporter's. */
function exportBody(ids: { traceId: string; rootSpanId: string; childSpanId: string } = { traceId, rootSpanId, childSpanId }) {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'porthole' } },
            { key: 'process.pid', value: { intValue: 4242 } },
          ],
          droppedAttributesCount: 0,
        },
        scopeSpans: [
          {
            scope: { name: 'porthole', version: '0.1.0' },
            spans: [
              {
                traceId: ids.traceId,
                spanId: ids.rootSpanId,
                name: 'GET /v2/:name/manifests/:reference',
                kind: 2,
                startTimeUnixNano: '1700000000000000000',
                endTimeUnixNano: '1700000000250000000',
                attributes: [
                  { key: 'http.request.method', value: { stringValue: 'GET' } },
                  // int64 may come as a JSON string (protobuf-JSON) or a number (the JS exporter).
                  { key: 'http.response.status_code', value: { intValue: '200' } },
                  { key: 'http.response.body.size', value: { intValue: 1234 } },
                  { key: 'porthole.ratio', value: { doubleValue: 0.5 } },
                  { key: 'porthole.cached', value: { boolValue: false } },
                  { key: 'porthole.tags', value: { arrayValue: { values: [{ stringValue: 'latest' }, { stringValue: 'v1' }] } } },
                  { key: 'porthole.big', value: { intValue: '9007199254740993' } },
                ],
                droppedAttributesCount: 0,
                events: [],
                status: { code: 0 },
                links: [],
                flags: 257,
              },
              {
                traceId: ids.traceId,
                spanId: ids.childSpanId,
                parentSpanId: ids.rootSpanId,
                name: 'storage.getBlob',
                kind: 1,
                startTimeUnixNano: '1700000000010000000',
                endTimeUnixNano: '1700000000020000000',
                attributes: [{ key: 'porthole.digest', value: { stringValue: 'sha256:abc' } }],
                events: [
                  {
                    name: 'exception',
                    timeUnixNano: '1700000000015000000',
                    attributes: [{ key: 'exception.message', value: { stringValue: 'disk full' } }],
                  },
                ],
                status: { code: 2, message: 'disk full' },
                links: [{ traceId: linkedTraceId, spanId: linkedSpanId, attributes: [{ key: 'porthole.joined', value: { boolValue: true } }] }],
              },
            ],
          },
        ],
      },
    ],
  };
}

function postExport(receiver: OtlpReceiver, body: Buffer | string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<RawResponse> {
  return raw(receiver.url, {
    method: 'POST',
    path: '/v1/traces',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    timeoutMs,
  });
}

describe('the OTLP/HTTP test receiver', () => {
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await startOtlpReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  it('listens on 127.0.0.1 and names its traces endpoint', () => {
    assert.match(receiver.url, /^http:\/\/127\.0\.0\.1:\d+\/v1\/traces$/);
    assert.equal(new URL(receiver.url).port, String(receiver.port));
  });

  it('answers an export 200 {} and flattens its spans', async () => {
    receiver.clear();
    const response = await postExport(receiver, JSON.stringify(exportBody()), { 'x-api-key': 'secret-key' });
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), {});

    const [root, child] = receiver.spans();
    assert.equal(receiver.spans().length, 2);
    assert.ok(root && child);
    assert.equal(root.traceId, traceId);
    assert.equal(root.spanId, rootSpanId);
    assert.equal(root.parentSpanId, undefined);
    assert.equal(root.name, 'GET /v2/:name/manifests/:reference');
    assert.equal(root.kind, 2);
    assert.equal(root.startTimeUnixNano, 1700000000000000000n);
    assert.equal(root.endTimeUnixNano - root.startTimeUnixNano, 250_000_000n);
    assert.deepEqual(root.attributes, {
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'http.response.body.size': 1234,
      'porthole.ratio': 0.5,
      'porthole.cached': false,
      'porthole.tags': ['latest', 'v1'],
      'porthole.big': 9007199254740993n,
    });
    assert.deepEqual(root.status, { code: 0, message: '' });
    assert.equal(root.flags, 257);
    assert.deepEqual(root.resource, { 'service.name': 'porthole', 'process.pid': 4242 });
    assert.equal(root.scopeName, 'porthole');
    assert.equal(root.scopeVersion, '0.1.0');
    assert.equal(root.exportIndex, 0);

    assert.equal(child.parentSpanId, rootSpanId);
    assert.equal(child.kind, 1);
    assert.deepEqual(child.status, { code: 2, message: 'disk full' });
    assert.deepEqual(child.events, [{ name: 'exception', timeUnixNano: 1700000000015000000n, attributes: { 'exception.message': 'disk full' } }]);
    assert.deepEqual(child.links, [{ traceId: linkedTraceId, spanId: linkedSpanId, traceState: undefined, attributes: { 'porthole.joined': true } }]);
    assert.equal(child.flags, 0, 'a flags field left out is 0');

    const [request] = receiver.requests();
    assert.equal(receiver.requests().length, 1);
    assert.equal(request?.headers['x-api-key'], 'secret-key');
    assert.equal(request?.spanCount, 2);
    assert.equal(request?.status, 200);
  });

  it('reads base64 and upper-case hex ids as lowercase hex', async () => {
    receiver.clear();
    const base64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
    const body = exportBody({ traceId: base64(traceId), rootSpanId: rootSpanId.toUpperCase(), childSpanId: base64(childSpanId) });
    assert.equal((await postExport(receiver, JSON.stringify(body))).status, 200);
    const [root, child] = receiver.spans();
    assert.equal(root?.traceId, traceId);
    assert.equal(root?.spanId, rootSpanId);
    assert.equal(child?.traceId, traceId);
    assert.equal(child?.spanId, childSpanId);
  });

  it('decodes a gzipped body', async () => {
    receiver.clear();
    const response = await postExport(receiver, gzipSync(JSON.stringify(exportBody())), { 'content-encoding': 'gzip' });
    assert.equal(response.status, 200);
    assert.deepEqual(
      receiver.spans().map((span) => span.name),
      ['GET /v2/:name/manifests/:reference', 'storage.getBlob'],
    );
  });

  it('answers 400 to a body that is not OTLP/JSON, and 415 to another media type or compression, keeping no span', async () => {
    receiver.clear();
    const broken = exportBody();
    const firstSpan = broken.resourceSpans[0]?.scopeSpans[0]?.spans[0];
    assert.ok(firstSpan);
    firstSpan.traceId = 'not-an-id';
    assert.equal((await postExport(receiver, JSON.stringify(broken))).status, 400);
    assert.equal((await postExport(receiver, '{"resourceSpans": ')).status, 400);
    assert.equal((await postExport(receiver, JSON.stringify(exportBody()), { 'content-type': 'text/plain' })).status, 415);
    assert.equal((await postExport(receiver, JSON.stringify(exportBody()), { 'content-encoding': 'br' })).status, 415);
    assert.deepEqual(receiver.spans(), []);
    assert.equal(receiver.requests().length, 4);
    assert.match(receiver.requests()[0]?.decodeError ?? '', /traceId/);
    assert.match(receiver.requests()[2]?.decodeError ?? '', /unsupported content-type text\/plain/);
  });

  it('waits for spans, and says what it got when they do not come', async () => {
    receiver.clear();
    const waiting = receiver.waitForSpans((spans) => spans.some((span) => span.name === 'storage.getBlob'), 5000);
    await postExport(receiver, JSON.stringify(exportBody()));
    assert.equal((await waiting).length, 2);
    await assert.rejects(
      receiver.waitForSpans((spans) => spans.length > 2, 100),
      /2 spans so far: GET \/v2\/:name\/manifests\/:reference, storage.getBlob/,
    );
  });

  it('refuses with 503 in refuse mode, keeping no span but counting the request', async () => {
    receiver.clear();
    receiver.setMode('refuse');
    try {
      assert.equal((await postExport(receiver, JSON.stringify(exportBody()))).status, 503);
      assert.deepEqual(receiver.spans(), []);
      assert.equal(receiver.requests()[0]?.spanCount, 2);
    } finally {
      receiver.setMode('accept');
    }
    assert.equal((await postExport(receiver, JSON.stringify(exportBody()))).status, 200);
  });

  it('reads the body and never answers in hang mode', async () => {
    receiver.clear();
    receiver.setMode('hang');
    try {
      // The client gives up on its own bound; the receiver only has to not answer.
      await assert.rejects(postExport(receiver, JSON.stringify(exportBody()), {}, 300), /timed out/);
      assert.equal(receiver.requests().length, 1);
      assert.equal(receiver.requests()[0]?.status, undefined);
      assert.deepEqual(receiver.spans(), []);
    } finally {
      receiver.setMode('accept');
    }
    assert.equal((await postExport(receiver, JSON.stringify(exportBody()))).status, 200);
  });

  it('refuses connections while stopped and listens on the same port again after start', async () => {
    receiver.clear();
    const url = receiver.url;
    await receiver.stop();
    await assert.rejects(postExport(receiver, JSON.stringify(exportBody())), { code: 'ECONNREFUSED' });
    await receiver.start();
    assert.equal(receiver.url, url);
    assert.equal((await postExport(receiver, JSON.stringify(exportBody()))).status, 200);
    assert.equal(receiver.spans().length, 2);
  });

  it('cuts a hanging request when stopped', async () => {
    receiver.clear();
    receiver.setMode('hang');
    try {
      const hanging = postExport(receiver, JSON.stringify(exportBody()), {}, 10_000);
      await waitFor('the hanging export to be read', () => receiver.requests()[0]?.spanCount === 2, 5000);
      await receiver.stop();
      await assert.rejects(hanging, { code: 'ECONNRESET' });
    } finally {
      receiver.setMode('accept');
      await receiver.start();
    }
  });
});

// OTLP/protobuf. The oracle is @opentelemetry/otlp-transformer: the same SDK spans through its
// protobuf and its JSON serializer must come out of the receiver as the same ReceivedSpans.

const JSON_HEADERS = { 'content-type': 'application/json' };
const PROTOBUF_HEADERS = { 'content-type': 'application/x-protobuf' };

function serialize(spans: ReadableSpan[]): { json: Buffer; protobuf: Buffer } {
  const json = JsonTraceSerializer.serializeRequest(spans);
  const protobuf = ProtobufTraceSerializer.serializeRequest(spans);
  assert.ok(json && protobuf, 'both serializers wrote a request');
  return { json: Buffer.from(json), protobuf: Buffer.from(protobuf) };
}

/** int64's range: within it, an integral JS number is an int_value to both serializers. */
const INT64_MIN = -(2 ** 63);
const INT64_END = 2 ** 63;

/**
 * The JSON spans as protobuf carries them: the JSON serializer writes an int64 as a JSON number,
 * so an integer past 2^53 reaches the JSON path as a number, where protobuf has the int64 itself.
 */
function withWideIntegersAsBigint(spans: ReceivedSpan[]): ReceivedSpan[] {
  return spans.map((span) => ({
    ...span,
    attributes: wideIntegersAsBigint(span.attributes),
    resource: wideIntegersAsBigint(span.resource),
    events: span.events.map((event) => ({ ...event, attributes: wideIntegersAsBigint(event.attributes) })),
    links: span.links.map((link) => ({ ...link, attributes: wideIntegersAsBigint(link.attributes) })),
  }));
}

function wideIntegersAsBigint(attributes: OtlpAttributes): OtlpAttributes {
  return Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, wideIntegerAsBigint(value)]));
}

function wideIntegerAsBigint(value: OtlpValue): OtlpValue {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value) && value >= INT64_MIN && value < INT64_END ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(wideIntegerAsBigint);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  return wideIntegersAsBigint(value);
}

function named(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((span) => span.name === name);
  assert.equal(found.length, 1, `one span named ${name}`);
  return found[0] as ReceivedSpan;
}

describe('OTLP/protobuf, against the OpenTelemetry serializers', () => {
  const spans = recordSpans();
  const { json, protobuf } = serialize(spans);

  it('decodes the protobuf serializer\'s bytes into the spans the JSON serializer\'s bytes give', () => {
    const fromJson = decodeExport(JSON_HEADERS, json, 0);
    const fromProtobuf = decodeExport(PROTOBUF_HEADERS, protobuf, 0);
    assert.equal(fromProtobuf.length, spans.length);
    assert.equal(fromJson.length, spans.length);

    // The one difference, from the JSON serializer's int64-as-number: the JSON path can only give numbers.
    const serverFromJson = named(fromJson, 'GET /v2/:name/manifests/:reference');
    const serverFromProtobuf = named(fromProtobuf, 'GET /v2/:name/manifests/:reference');
    assert.equal(serverFromJson.attributes['porthole.wide'], 2 ** 53 + 2);
    assert.equal(serverFromProtobuf.attributes['porthole.wide'], 2n ** 53n + 2n);
    assert.equal(serverFromProtobuf.attributes['porthole.int64.min'], -(2n ** 63n));
    assert.deepEqual(serverFromProtobuf.attributes['porthole.sizes'], [1, 2n ** 60n, -3]);
    // Not a difference, once read: the JSON serializer writes an empty tracestate as "", the protobuf one leaves it out.
    assert.match(json.toString('utf8'), /"traceState":""/);
    assert.equal(named(fromJson, 'GET /v2/').traceState, undefined);

    assert.deepEqual(fromProtobuf, withWideIntegersAsBigint(fromJson));
  });

  it('gets every field of the spans right, not only the same as JSON', () => {
    const decoded = decodeExport(PROTOBUF_HEADERS, protobuf, 0);
    const server = named(decoded, 'GET /v2/:name/manifests/:reference');
    const client = named(decoded, 'proxy.fetchManifest');
    const read = named(decoded, 'storage.getBlob');

    assert.equal(server.traceId, remoteTraceId);
    assert.equal(server.parentSpanId, remoteSpanId);
    assert.equal(server.traceState, 'porthole-test=continued,vendor=a1');
    assert.equal(server.kind, 2);
    // Sampled, and (OTLP's bits 8 and 9) the parent is known to be remote.
    assert.equal(server.flags, 0x301);
    assert.equal(server.startTimeUnixNano, 1_700_000_000_123_456_789n);
    assert.equal(server.endTimeUnixNano, 1_700_000_000_373_456_789n);
    assert.deepEqual(server.attributes, {
      ...serverAttributes,
      'porthole.wide': 9_007_199_254_740_994n,
      'porthole.int64.min': -9_223_372_036_854_775_808n,
      'porthole.sizes': [1, 1_152_921_504_606_846_976n, -3],
    });
    assert.deepEqual(server.status, { code: 0, message: '' });
    assert.deepEqual(server.resource, { 'service.name': 'porthole', 'service.version': '0.1.0', 'process.pid': 4242, 'host.name': 'bâtiment-7' });
    assert.equal(server.scopeName, 'porthole');
    assert.equal(server.scopeVersion, '0.1.0');
    assert.equal(server.exportIndex, 0);

    assert.equal(client.traceId, remoteTraceId);
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(client.kind, 3);
    assert.equal(client.flags, 0x101, 'sampled, parent known to be local');
    assert.deepEqual(client.status, { code: 2, message: 'upstream 503: café ✓' });
    assert.deepEqual(
      client.events.map((event) => event.name),
      ['exception', 'retry', 'gave up'],
    );
    const exception = client.events[0]?.attributes;
    assert.equal(exception?.['exception.type'], 'Error');
    assert.equal(exception?.['exception.message'], 'upstream said 503 — réessayer ✗');
    assert.match(String(exception?.['exception.stacktrace']), /^Error: upstream said 503/);
    assert.deepEqual(client.events[1]?.attributes, { 'porthole.attempt': 2, 'porthole.delay_ms': 12.5 });
    assert.deepEqual(client.events[2]?.attributes, {});
    assert.ok((client.events[0]?.timeUnixNano ?? 0n) >= client.startTimeUnixNano);
    assert.deepEqual(client.links, [
      { traceId: linkedTraceId, spanId: linkedSpanId, traceState: 'linked=yes', attributes: { 'porthole.joined': true, 'porthole.attempt': 2 } },
      { traceId: remoteTraceId, spanId: server.spanId, traceState: 'porthole-test=continued,vendor=a1', attributes: {} },
    ]);

    assert.equal(read.parentSpanId, client.spanId);
    assert.equal(read.kind, 1);
    assert.equal(read.scopeName, 'porthole.storage');
    assert.equal(read.scopeVersion, undefined);

    assert.equal(named(decoded, 'GET /v2/').traceState, undefined, 'an empty tracestate is undefined');
    const publish = named(decoded, 'events.publish');
    assert.deepEqual([publish.kind, publish.parentSpanId, publish.status], [4, undefined, { code: 1, message: '' }]);
    const gc = named(decoded, 'gc.run');
    assert.equal(gc.kind, 5);
    assert.deepEqual(gc.resource, { 'service.name': 'porthole-worker' });
    assert.deepEqual([gc.scopeName, gc.scopeVersion], ['porthole.jobs', '2.0.0']);
    assert.deepEqual(gc.attributes, { 'porthole.freed': 123_456_789_012 });
    assert.equal(named(decoded, 'batch.299').attributes['porthole.index'], 299);
  });

  it('reads NaN and the infinities, which the JSON serializer cannot write', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const attributes = { 'porthole.nan': Number.NaN, 'porthole.inf': Number.POSITIVE_INFINITY, 'porthole.minus.inf': Number.NEGATIVE_INFINITY, 'porthole.huge': 1e300 };
    provider.getTracer('porthole').startSpan('odd numbers', { attributes }, ROOT_CONTEXT).end();
    const { json: oddJson, protobuf: oddProtobuf } = serialize(exporter.getFinishedSpans());
    // JSON.stringify turns NaN and ±Infinity into null, where proto3 JSON wants "NaN" and "Infinity".
    assert.match(oddJson.toString('utf8'), /"key":"porthole.nan","value":\{"doubleValue":null\}/);
    const [span] = decodeExport(PROTOBUF_HEADERS, oddProtobuf, 0);
    assert.deepEqual(span?.attributes, attributes);
  });

  describe('over HTTP', () => {
    let receiver: OtlpReceiver;
    before(async () => {
      receiver = await startOtlpReceiver();
    });
    after(async () => {
      await receiver.close();
    });

    it('answers a protobuf export 200 {} and keeps its spans, gzipped or not, under either media type', async () => {
      const bodies: Array<{ body: Buffer; headers: Record<string, string> }> = [
        { body: protobuf, headers: { 'content-type': 'application/x-protobuf' } },
        { body: gzipSync(protobuf), headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' } },
        { body: protobuf, headers: { 'content-type': 'application/protobuf' } },
      ];
      for (const { body, headers } of bodies) {
        const response = await postExport(receiver, body, headers);
        assert.equal(response.status, 200, JSON.stringify(headers));
        assert.deepEqual(response.json(), {});
      }
      const expected = [0, 1, 2].flatMap((index) => decodeExport(PROTOBUF_HEADERS, protobuf, index));
      assert.equal(receiver.spans().length, 3 * spans.length);
      assert.deepEqual(receiver.spans(), expected);
      assert.deepEqual(
        receiver.requests().map((request) => [request.status, request.spanCount, request.decodeError]),
        [0, 1, 2].map(() => [200, spans.length, undefined]),
      );
    });

    it('answers 400 to broken protobuf, saying why, and keeps none of it', async () => {
      receiver.clear();
      const broken: Array<[Buffer, RegExp]> = [
        [Buffer.from([0x0a, 0x80]), /truncated varint at byte 1/],
        [Buffer.from([0x0a, 0x05, 0x0a, 0x00]), /field 1 \(length-delimited\) at byte 0 runs past the end: needs 5 bytes, 2 left/],
        [requestWithSpan([lenField(1, Buffer.alloc(15, 1)), lenField(2, Buffer.alloc(8, 2))]), /spans\[0\]\.trace_id is 15 bytes, not 16/],
        // A good request ahead of the bad bytes: nothing of it is kept either.
        [Buffer.concat([protobuf, Buffer.from([0x0a, 0x7f])]), /needs 127 bytes/],
      ];
      for (const [body, reason] of broken) {
        const response = await postExport(receiver, body, { 'content-type': 'application/x-protobuf' });
        assert.equal(response.status, 400);
        assert.match(response.json()?.message ?? '', reason);
      }
      assert.deepEqual(receiver.spans(), []);
      assert.deepEqual(
        receiver.requests().map((request) => [request.status, request.spanCount]),
        broken.map(() => [400, undefined]),
      );
      broken.forEach(([, reason], index) => assert.match(receiver.requests()[index]?.decodeError ?? '', reason));
    });
  });
});

// Hand-made protobuf, for what the serializer never writes: unknown fields, values the SDK has no
// attribute type for, and broken bodies.

function varintBytes(value: bigint | number): Buffer {
  let rest = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest === 0n ? low : low | 0x80);
  } while (rest !== 0n);
  return Buffer.from(bytes);
}

function tag(number: number, wireType: number): Buffer {
  return varintBytes((BigInt(number) << 3n) | BigInt(wireType));
}

function varintField(number: number, value: bigint | number): Buffer {
  return Buffer.concat([tag(number, 0), varintBytes(value)]);
}

function fixed64Field(number: number, value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return Buffer.concat([tag(number, 1), bytes]);
}

function doubleField(number: number, value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return Buffer.concat([tag(number, 1), bytes]);
}

function fixed32Field(number: number, value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return Buffer.concat([tag(number, 5), bytes]);
}

function lenField(number: number, ...parts: Array<Buffer | string>): Buffer {
  const body = Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)));
  return Buffer.concat([tag(number, 2), varintBytes(body.length), body]);
}

/** An ExportTraceServiceRequest holding one span made of these fields. */
function requestWithSpan(spanFields: Buffer[]): Buffer {
  return lenField(1, lenField(2, lenField(2, ...spanFields)));
}

const handTraceId = Buffer.from(traceId, 'hex');
const handSpanId = Buffer.from(rootSpanId, 'hex');

/** Unknown fields of each wire type a parser must skip; the length-delimited one is not a valid message, so it must not be parsed. */
const UNKNOWN_FIELDS = Buffer.concat([
  varintField(100, 2n ** 64n - 1n),
  fixed64Field(101, 0xdeadbeefn),
  lenField(102, Buffer.from([0xff, 0xff, 0x07])),
  fixed32Field(103, 7),
  varintField(2 ** 29 - 1, 1),
]);

/**
 * A request with one span of everything the SDK cannot make, `unknown` put at the start and end of
 * every message in it. With UNKNOWN_FIELDS it must decode the same as with nothing.
 */
function handMadeRequest(unknown: Buffer): Buffer {
  const message = (...fields: Buffer[]): Buffer => Buffer.concat([unknown, ...fields, unknown]);
  const keyValue = (key: string, value?: Buffer): Buffer => message(lenField(1, key), ...(value === undefined ? [] : [lenField(2, value)]));
  const stringValue = (value: string): Buffer => message(lenField(1, value));
  const intValue = (value: bigint | number): Buffer => message(varintField(3, value));
  const attribute = (number: number, key: string, value?: Buffer): Buffer => lenField(number, keyValue(key, value));
  const kvlist = (...entries: Buffer[]): Buffer => message(lenField(6, message(...entries.map((entry) => lenField(1, entry)))));
  const array = (...items: Buffer[]): Buffer => message(lenField(5, message(...items.map((item) => lenField(1, item)))));

  const span = message(
    lenField(1, handTraceId),
    lenField(2, handSpanId),
    // An empty parent_span_id is a root, like one left out.
    lenField(4, ''),
    lenField(5, 'hand.made ✓'),
    varintField(6, 4),
    fixed64Field(7, 2n ** 64n - 1n),
    fixed64Field(8, 1n),
    attribute(9, 'bytes', message(lenField(7, Buffer.from([0, 1, 0xff])))),
    attribute(9, 'kvlist', kvlist(keyValue('inner', stringValue('x')), keyValue('deeper', kvlist(keyValue('n', intValue(7)))))),
    attribute(9, 'no.value'),
    attribute(9, 'empty.value', message()),
    attribute(9, 'int64.max', intValue(2n ** 63n - 1n)),
    attribute(9, 'int64.min', intValue(-(2n ** 63n))),
    attribute(9, 'minus.one', intValue(-1)),
    attribute(9, 'safe.max', intValue(Number.MAX_SAFE_INTEGER)),
    attribute(9, 'safe.past', intValue(2n ** 53n)),
    attribute(9, 'bool.true', message(varintField(2, 1))),
    attribute(9, 'bool.false', message(varintField(2, 0))),
    attribute(9, 'negative.zero', message(doubleField(4, -0))),
    attribute(9, 'array', array(stringValue('a'), intValue(1), message(), message(doubleField(4, 0.25)), array(stringValue('nested')))),
    // A oneof given two members: the later one holds.
    attribute(9, 'oneof.last', message(lenField(1, 'first'), varintField(3, 5))),
    // A key given twice: the later one holds.
    attribute(9, 'twice', stringValue('one')),
    attribute(9, 'twice', stringValue('two')),
    varintField(10, 3),
    lenField(11, message(fixed64Field(1, 1_700_000_000_000_000_001n), lenField(2, 'évènement'), attribute(3, 'e', message(varintField(2, 1))), varintField(4, 1))),
    varintField(12, 0),
    lenField(13, message(lenField(1, Buffer.from(linkedTraceId, 'hex')), lenField(2, Buffer.from(linkedSpanId, 'hex')), lenField(3, ''), attribute(4, 'l', stringValue('link')), varintField(5, 0), fixed32Field(6, 0x301))),
    varintField(14, 0),
    // A singular message given twice: the two merge.
    lenField(15, message(varintField(3, 2))),
    lenField(15, message(lenField(2, 'merged'))),
    fixed32Field(16, 0xffffffff),
  );
  const scope = message(lenField(1, 'hand'), lenField(2, ''), attribute(3, 'scope.attribute', stringValue('ignored')), varintField(4, 0));
  const resource = message(attribute(1, 'service.name', stringValue('hand')), varintField(2, 2));
  const scopeSpans = message(lenField(1, scope), lenField(2, span), lenField(3, 'https://opentelemetry.io/schemas/1.30.0'));
  const resourceSpans = message(lenField(1, resource), lenField(2, scopeSpans), lenField(3, 'https://opentelemetry.io/schemas/1.30.0'));
  return message(lenField(1, resourceSpans));
}

const handMadeSpan: ReceivedSpan = {
  traceId,
  spanId: rootSpanId,
  parentSpanId: undefined,
  traceState: undefined,
  name: 'hand.made ✓',
  kind: 4,
  startTimeUnixNano: 2n ** 64n - 1n,
  endTimeUnixNano: 1n,
  attributes: {
    bytes: Buffer.from([0, 1, 0xff]),
    kvlist: { inner: 'x', deeper: { n: 7 } },
    'no.value': null,
    'empty.value': null,
    'int64.max': 2n ** 63n - 1n,
    'int64.min': -(2n ** 63n),
    'minus.one': -1,
    'safe.max': Number.MAX_SAFE_INTEGER,
    'safe.past': 2n ** 53n,
    'bool.true': true,
    'bool.false': false,
    'negative.zero': -0,
    array: ['a', 1, null, 0.25, ['nested']],
    'oneof.last': 5,
    twice: 'two',
  },
  status: { code: 2, message: 'merged' },
  events: [{ name: 'évènement', timeUnixNano: 1_700_000_000_000_000_001n, attributes: { e: true } }],
  links: [{ traceId: linkedTraceId, spanId: linkedSpanId, traceState: undefined, attributes: { l: 'link' } }],
  flags: 0xffffffff,
  resource: { 'service.name': 'hand' },
  scopeName: 'hand',
  scopeVersion: undefined,
  exportIndex: 7,
};

describe('the OTLP/protobuf reader, on hand-made bodies', () => {
  it('reads what the SDK never sends: bytes, kvlists, empty values, int64\'s edges, repeated fields and oneofs', () => {
    assert.deepEqual(decodeExport(PROTOBUF_HEADERS, handMadeRequest(Buffer.alloc(0)), 7), [handMadeSpan]);
  });

  it('skips unknown fields of every wire type, in every message', () => {
    assert.deepEqual(decodeExport(PROTOBUF_HEADERS, handMadeRequest(UNKNOWN_FIELDS), 7), [handMadeSpan]);
  });

  it('reads an empty body as an export of no spans', () => {
    assert.deepEqual(decodeExport(PROTOBUF_HEADERS, Buffer.alloc(0), 0), []);
    assert.deepEqual(decodeExport(PROTOBUF_HEADERS, lenField(1, lenField(2, '')), 0), []);
  });

  it('refuses broken bodies, naming the field and the byte', () => {
    const ids = [lenField(1, handTraceId), lenField(2, handSpanId)];
    const cases: Array<[string, Buffer, RegExp]> = [
      ['a tag cut short', Buffer.from([0x80]), /^ExportTraceServiceRequest: truncated varint at byte 0$/],
      ['a length cut short', Buffer.from([0x0a, 0x80]), /truncated varint at byte 1/],
      ['a length past the end', Buffer.from([0x0a, 0x05, 0x0a, 0x00]), /^ExportTraceServiceRequest: field 1 \(length-delimited\) at byte 0 runs past the end: needs 5 bytes, 2 left$/],
      ['a length past the end of its parent', lenField(1, lenField(2, Buffer.from([0x12, 0x09, 0x00]))), /^resource_spans\[0\]\.scope_spans\[0\]: field 2 \(length-delimited\) at byte 4 runs past the end: needs 9 bytes, 1 left$/],
      ['a length past 2^53', Buffer.concat([tag(1, 2), varintBytes(2n ** 60n)]), /field 1 \(length-delimited\) at byte 0 runs past the end: needs 1152921504606846976 bytes/],
      ['a fixed64 cut short', requestWithSpan([...ids, tag(7, 1), Buffer.from([1, 2, 3])]), /spans\[0\]: field 7 \(i64\) at byte \d+ runs past the end: needs 8 bytes, 3 left/],
      ['a fixed32 cut short', Buffer.from([0x1d, 0x01]), /field 3 \(i32\) at byte 0 runs past the end: needs 4 bytes, 1 left/],
      ['a varint of 11 bytes', Buffer.from([0x08, ...Array<number>(10).fill(0xff), 0x01]), /varint at byte 1 is longer than 10 bytes/],
      ['a varint past 64 bits', Buffer.from([0x08, ...Array<number>(9).fill(0xff), 0x02]), /varint at byte 1 overflows 64 bits/],
      ['field number 0', Buffer.from([0x02, 0x00]), /invalid field number 0 at byte 0/],
      ['a group start', Buffer.concat([tag(1, 3), tag(1, 4)]), /field 1 \(group start\) at byte 0 is a group, which OTLP does not use/],
      ['a group end', requestWithSpan([...ids, tag(20, 4)]), /spans\[0\]: field 20 \(group end\) at byte \d+ is a group/],
      ['wire type 7', Buffer.concat([tag(9, 7)]), /field 9 \(wire type 7\) at byte 0 has a wire type protobuf does not define/],
      ['a trace id of 15 bytes', requestWithSpan([lenField(1, Buffer.alloc(15)), lenField(2, handSpanId)]), /^resource_spans\[0\]\.scope_spans\[0\]\.spans\[0\]\.trace_id is 15 bytes, not 16$/],
      ['no trace id', requestWithSpan([lenField(2, handSpanId)]), /spans\[0\]\.trace_id is 0 bytes, not 16/],
      ['a span id of 16 bytes', requestWithSpan([lenField(1, handTraceId), lenField(2, handTraceId)]), /spans\[0\]\.span_id is 16 bytes, not 8/],
      ['a parent span id of 4 bytes', requestWithSpan([...ids, lenField(4, Buffer.alloc(4, 1))]), /spans\[0\]\.parent_span_id is 4 bytes, not 8/],
      ['a link span id of 7 bytes', requestWithSpan([...ids, lenField(13, lenField(1, handTraceId), lenField(2, Buffer.alloc(7)))]), /spans\[0\]\.links\[0\]\.span_id is 7 bytes, not 8/],
      ['a trace id sent as a varint', requestWithSpan([varintField(1, 5), lenField(2, handSpanId)]), /spans\[0\]\.trace_id \(field 1\) came as varint, not length-delimited/],
      ['a start time sent as fixed32', requestWithSpan([...ids, fixed32Field(7, 1)]), /start_time_unix_nano \(field 7\) came as i32, not i64/],
      ['a name that is not UTF-8', requestWithSpan([...ids, lenField(5, Buffer.from([0x61, 0xc3, 0x28]))]), /spans\[0\]\.name is not valid UTF-8/],
      ['an attribute that is not a message', requestWithSpan([...ids, lenField(9, Buffer.from([0x0a, 0x09]))]), /spans\[0\]\.attributes\[0\]: field 1 \(length-delimited\) at byte \d+ runs past the end: needs 9 bytes, 0 left/],
    ];
    for (const [what, body, reason] of cases) {
      assert.throws(() => decodeExport(PROTOBUF_HEADERS, body, 0), { message: reason }, what);
    }
  });
});
