import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { waitFor } from '../helpers/wait-for.js';

const traceId = '5b8efff798038103d269b633813fc60c';
const rootSpanId = 'eee19b7ec3c1b174';
const childSpanId = 'a1b2c3d4e5f60718';
const linkedTraceId = '0af7651916cd43dd8448eb211c80319c';
const linkedSpanId = 'b7ad6b7169203331';

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

  it('answers 400 to a body that is not OTLP/JSON and 415 to protobuf, keeping no span', async () => {
    receiver.clear();
    const broken = exportBody();
    const firstSpan = broken.resourceSpans[0]?.scopeSpans[0]?.spans[0];
    assert.ok(firstSpan);
    firstSpan.traceId = 'not-an-id';
    assert.equal((await postExport(receiver, JSON.stringify(broken))).status, 400);
    assert.equal((await postExport(receiver, '{"resourceSpans": ')).status, 400);
    assert.equal((await postExport(receiver, Buffer.from([0x0a, 0x00]), { 'content-type': 'application/x-protobuf' })).status, 415);
    assert.deepEqual(receiver.spans(), []);
    assert.equal(receiver.requests().length, 3);
    assert.match(receiver.requests()[0]?.decodeError ?? '', /traceId/);
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
