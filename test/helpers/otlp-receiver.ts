import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { decodeProtobufExport, int64Value } from './otlp-protobuf.js';
import { waitFor } from './wait-for.js';

/**
 * An OTLP/HTTP trace receiver (POST /v1/traces) that keeps every span it is sent, for tests of
 * porthole's tracing. It stands in for Jaeger or the OpenTelemetry collector, neither of which has
 * a Debian package on these machines. It decodes both encodings of OTLP/HTTP, gzipped or not:
 * OTLP/JSON (`application/json`) and OTLP/protobuf (`application/x-protobuf`, or
 * `application/protobuf`), the latter through the reader in otlp-protobuf.ts (protobufjs is not in
 * node_modules). Either one gives the same ReceivedSpan, so a test need not know which was sent.
 *
 * Any other media type, or a compression other than gzip, is counted in requests() and answered
 * 415, which an exporter reports as a failed export rather than a silent loss.
 *
 * Its modes stand for the collectors porthole must survive: 'accept' (200 `{}`, the OTLP success
 * answer), 'refuse' (503, a collector that is up but overloaded), 'hang' (reads the body and never
 * answers, a collector that is slow past any timeout). stop() closes the port, so connections are
 * refused as if no collector ran; start() listens again on the same port.
 */
export type OtlpReceiverMode = 'accept' | 'refuse' | 'hang';

/**
 * An OTLP AnyValue as a plain value: int64 beyond 2^53 as bigint, bytes as a Buffer, an empty
 * AnyValue as null. One exception: an OTLP/JSON intValue written as a JSON number (as the JS JSON
 * serializer writes them) stays a number even beyond 2^53, since JSON.parse has already rounded it;
 * the same value in protobuf is a bigint.
 */
export type OtlpValue = string | number | bigint | boolean | null | Buffer | OtlpValue[] | { [key: string]: OtlpValue };
export type OtlpAttributes = Record<string, OtlpValue>;

export interface ReceivedSpan {
  /** Lowercase hex, 32 digits. */
  traceId: string;
  /** Lowercase hex, 16 digits. */
  spanId: string;
  /** Lowercase hex, 16 digits; undefined for a root span (absent or empty on the wire). */
  parentSpanId: string | undefined;
  /** The W3C tracestate; undefined when absent or empty on the wire. */
  traceState: string | undefined;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: OtlpAttributes;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  events: Array<{ name: string; timeUnixNano: bigint; attributes: OtlpAttributes }>;
  links: Array<{ traceId: string; spanId: string; traceState: string | undefined; attributes: OtlpAttributes }>;
  /** W3C trace flags in the low 8 bits (1 = sampled), OTLP's is-remote bits above. */
  flags: number;
  /** Attributes of the resource of the batch the span came in (service.name, ...). */
  resource: OtlpAttributes;
  scopeName: string;
  /** Undefined when absent or empty on the wire. */
  scopeVersion: string | undefined;
  /** Index in requests() of the export that carried it. */
  exportIndex: number;
}

/** One HTTP request the receiver got, export or not. Updated in place as its body is read and answered. */
export interface ReceivedRequest {
  index: number;
  method: string;
  /** The request target, query included. */
  path: string;
  headers: IncomingHttpHeaders;
  mode: OtlpReceiverMode;
  /** Spans the body held, once decoded (whatever the mode answered); undefined if it was not. */
  spanCount: number | undefined;
  /** Why the body could not be decoded. */
  decodeError: string | undefined;
  /** The status answered; undefined while the body is read, and for good in 'hang' mode. */
  status: number | undefined;
}

export interface OtlpReceiver {
  /** The traces endpoint, http://127.0.0.1:PORT/v1/traces. */
  url: string;
  port: number;
  /** Every span accepted so far (answered 200), in arrival order. */
  spans(): ReceivedSpan[];
  requests(): ReceivedRequest[];
  /** Polls (every 20 ms, at most timeoutMs) until predicate holds for the spans so far; resolves with them. */
  waitForSpans(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Forgets spans and requests (requests left hanging stay so). */
  clear(): void;
  setMode(mode: OtlpReceiverMode): void;
  /** Closes the port and cuts every connection, hanging ones included. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** stop(), for good. spans() and requests() stay readable. */
  close(): Promise<void>;
}

export interface OtlpReceiverOptions {
  mode?: OtlpReceiverMode;
  /** A fixed port (from freePort()); an ephemeral one when omitted. */
  port?: number;
}

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  let mode: OtlpReceiverMode = options.mode ?? 'accept';
  let spans: ReceivedSpan[] = [];
  let requests: ReceivedRequest[] = [];
  let server: Server | undefined;
  let closed = false;

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const received: ReceivedRequest = {
      index: requests.length,
      method: request.method ?? '',
      path: request.url ?? '',
      headers: request.headers,
      mode,
      spanCount: undefined,
      decodeError: undefined,
      status: undefined,
    };
    requests.push(received);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const isExport = received.method === 'POST' && new URL(received.path, 'http://receiver.local').pathname === '/v1/traces';
      let decoded: ReceivedSpan[] = [];
      let unsupported = false;
      if (isExport) {
        try {
          decoded = decodeExport(request.headers, Buffer.concat(chunks), received.index);
          received.spanCount = decoded.length;
        } catch (err) {
          received.decodeError = (err as Error).message;
          unsupported = err instanceof UnsupportedBody;
        }
      }
      // The mode when the body has arrived decides, so that setMode() acts on requests in flight.
      received.mode = mode;
      if (received.mode === 'hang') return; // stop() or close() cuts the connection
      const answer = (status: number, body: object): void => {
        received.status = status;
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (!isExport) answer(404, { message: 'this receiver takes POST /v1/traces only' });
      else if (received.mode === 'refuse') answer(503, { message: 'refused by the test receiver' });
      else if (received.decodeError !== undefined) answer(unsupported ? 415 : 400, { message: received.decodeError });
      else {
        spans.push(...decoded);
        answer(200, {});
      }
    });
  };

  const listen = async (port: number): Promise<number> => {
    const fresh = createServer(handle);
    await new Promise<void>((resolve, reject) => {
      fresh.once('error', reject);
      fresh.listen(port, '127.0.0.1', () => {
        fresh.off('error', reject);
        resolve();
      });
    });
    server = fresh;
    const address = fresh.address();
    if (address === null || typeof address === 'string') throw new Error('the OTLP receiver has no port');
    return address.port;
  };

  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      const running = server;
      server = undefined;
      if (running === undefined) return resolve();
      running.closeAllConnections();
      running.close(() => resolve());
    });

  const port = await listen(options.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    port,
    spans: () => [...spans],
    requests: () => [...requests],
    async waitForSpans(predicate, timeoutMs = 10_000) {
      try {
        await waitFor('spans', () => predicate(spans), timeoutMs);
      } catch (err) {
        // What did arrive is what one needs to see when the expected spans did not.
        const names = spans.map((span) => span.name).join(', ');
        throw new Error(`${(err as Error).message}; ${requests.length} requests and ${spans.length} spans so far: ${names || 'none'}`, { cause: err });
      }
      return [...spans];
    },
    clear: () => {
      spans = [];
      requests = [];
    },
    setMode: (next) => {
      mode = next;
    },
    stop,
    start: async () => {
      if (closed) throw new Error('the OTLP receiver was closed');
      if (server === undefined) await listen(port);
    },
    close: async () => {
      closed = true;
      await stop();
    },
  };
}

/** A body this receiver does not decode (an unknown media type or compression): answered 415, not 400. */
class UnsupportedBody extends Error {}

/** OTLP/HTTP's protobuf media type, and the registered name some clients send instead. */
const PROTOBUF_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/x-protobuf', 'application/protobuf']);

/** The spans of one export body, flattened. Throws on anything that is not OTLP/JSON or OTLP/protobuf traces. */
export function decodeExport(headers: IncomingHttpHeaders, body: Buffer, exportIndex: number): ReceivedSpan[] {
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'gzip') body = gunzipSync(body);
  else if (encoding !== 'identity') throw new UnsupportedBody(`unsupported content-encoding ${encoding}`);
  const mediaType = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/json') return flattenExportRequest(JSON.parse(body.toString('utf8')), exportIndex);
  if (PROTOBUF_MEDIA_TYPES.has(mediaType)) return decodeProtobufExport(body, exportIndex);
  throw new UnsupportedBody(`unsupported content-type ${mediaType || '(none)'}: this receiver decodes OTLP/JSON and OTLP/protobuf only`);
}

/** ExportTraceServiceRequest (resourceSpans → scopeSpans → spans) to one list of spans. */
export function flattenExportRequest(request: unknown, exportIndex = 0): ReceivedSpan[] {
  const flat: ReceivedSpan[] = [];
  for (const resourceSpans of listAt(objectOf(request, 'request'), 'resourceSpans')) {
    const resourceBatch = objectOf(resourceSpans, 'resourceSpans');
    const resource = resourceBatch.resource === undefined ? {} : attributesOf(objectOf(resourceBatch.resource, 'resource'));
    for (const scopeSpans of listAt(resourceBatch, 'scopeSpans')) {
      const scopeBatch = objectOf(scopeSpans, 'scopeSpans');
      const scope = scopeBatch.scope === undefined ? {} : objectOf(scopeBatch.scope, 'scope');
      for (const wire of listAt(scopeBatch, 'spans')) {
        const span = objectOf(wire, 'span');
        const status = span.status === undefined ? {} : objectOf(span.status, 'status');
        flat.push({
          traceId: idOf(span.traceId, 16, 'traceId'),
          spanId: idOf(span.spanId, 8, 'spanId'),
          parentSpanId: span.parentSpanId === undefined || span.parentSpanId === '' ? undefined : idOf(span.parentSpanId, 8, 'parentSpanId'),
          traceState: nonEmptyString(span.traceState, 'traceState'),
          name: optionalString(span.name, 'name') ?? '',
          kind: integerOf(span.kind, 'kind'),
          startTimeUnixNano: nanosOf(span.startTimeUnixNano, 'startTimeUnixNano'),
          endTimeUnixNano: nanosOf(span.endTimeUnixNano, 'endTimeUnixNano'),
          attributes: attributesOf(span),
          status: { code: integerOf(status.code, 'status.code'), message: optionalString(status.message, 'status.message') ?? '' },
          events: listAt(span, 'events').map((event) => {
            const fields = objectOf(event, 'event');
            return { name: optionalString(fields.name, 'event.name') ?? '', timeUnixNano: nanosOf(fields.timeUnixNano, 'event.timeUnixNano'), attributes: attributesOf(fields) };
          }),
          links: listAt(span, 'links').map((link) => {
            const fields = objectOf(link, 'link');
            return {
              traceId: idOf(fields.traceId, 16, 'link.traceId'),
              spanId: idOf(fields.spanId, 8, 'link.spanId'),
              traceState: nonEmptyString(fields.traceState, 'link.traceState'),
              attributes: attributesOf(fields),
            };
          }),
          flags: integerOf(span.flags, 'flags'),
          resource,
          scopeName: optionalString(scope.name, 'scope.name') ?? '',
          scopeVersion: nonEmptyString(scope.version, 'scope.version'),
          exportIndex,
        });
      }
    }
  }
  return flat;
}

type JsonObject = Record<string, unknown>;

function objectOf(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as JsonObject;
}

/** A repeated field; proto3 JSON leaves an empty one out. */
function listAt(holder: JsonObject, key: string): unknown[] {
  const value = holder[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${key} is not an array`);
  return value;
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`${what} is not a string`);
  return value;
}

/**
 * A string the model leaves undefined when absent, read the same when empty: protobuf cannot tell
 * the two apart (the JS protobuf serializer leaves an empty tracestate out, its JSON one writes
 * `""`), and a span must not read differently for the encoding it came in.
 */
function nonEmptyString(value: unknown, what: string): string | undefined {
  const string = optionalString(value, what);
  return string === '' ? undefined : string;
}

/** An int32/enum field: proto3 JSON leaves a zero out, and may quote numbers. */
function integerOf(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) throw new Error(`${what} is not an integer: ${JSON.stringify(value)}`);
  return number;
}

/** A fixed64 time: a decimal string in OTLP/JSON (int64 does not fit a JSON number), a number from lax encoders. */
function nanosOf(value: unknown, what: string): bigint {
  if (value === undefined || value === null) return 0n;
  if ((typeof value === 'string' && /^\d+$/.test(value)) || (typeof value === 'number' && Number.isInteger(value) && value >= 0)) return BigInt(value);
  throw new Error(`${what} is not a time in nanoseconds: ${JSON.stringify(value)}`);
}

/**
 * A trace or span id as lowercase hex. OTLP/JSON says hex (the JS exporter sends hex); the plain
 * protobuf-JSON mapping of bytes is base64. The lengths tell them apart: hex is 2 digits a byte
 * (32 or 16), base64 4 characters for 3 bytes (24/22 or 12/11), so no length is both.
 */
function idOf(value: unknown, bytes: number, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} is missing or not a string`);
  if (value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) return value.toLowerCase();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const decoded = Buffer.from(value, 'base64');
    if (decoded.length === bytes) return decoded.toString('hex');
  }
  throw new Error(`${what} ${JSON.stringify(value)} is neither ${bytes * 2} hex digits nor base64 of ${bytes} bytes`);
}

/** The `attributes` list (KeyValue[]) of a span, event, link or resource as a plain record. */
function attributesOf(holder: JsonObject): OtlpAttributes {
  return keyValuesOf(listAt(holder, 'attributes'), 'attributes');
}

function keyValuesOf(list: unknown[], what: string): OtlpAttributes {
  const record: OtlpAttributes = {};
  for (const entry of list) {
    const keyValue = objectOf(entry, `${what} entry`);
    if (typeof keyValue.key !== 'string') throw new Error(`${what} entry has no key`);
    record[keyValue.key] = keyValue.value === undefined ? null : anyValueOf(keyValue.value, `${what}.${keyValue.key}`);
  }
  return record;
}

function anyValueOf(value: unknown, what: string): OtlpValue {
  const fields = objectOf(value, what);
  if ('stringValue' in fields) return optionalString(fields.stringValue, what) ?? '';
  if ('boolValue' in fields) {
    if (typeof fields.boolValue !== 'boolean') throw new Error(`${what} boolValue is not a boolean`);
    return fields.boolValue;
  }
  if ('intValue' in fields) {
    // int64: a decimal string in OTLP/JSON, a number from the JS exporter.
    const raw = fields.intValue;
    if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
    if (typeof raw === 'string' && /^-?\d+$/.test(raw)) return int64Value(BigInt(raw));
    throw new Error(`${what} intValue is not an integer: ${JSON.stringify(raw)}`);
  }
  if ('doubleValue' in fields) {
    // protobuf-JSON writes NaN and the infinities as strings, and may quote any double.
    const raw = fields.doubleValue;
    const number = typeof raw === 'string' ? Number(raw) : raw;
    if (typeof number !== 'number' || (Number.isNaN(number) && raw !== 'NaN')) throw new Error(`${what} doubleValue is not a number: ${JSON.stringify(raw)}`);
    return number;
  }
  if ('bytesValue' in fields) return Buffer.from(optionalString(fields.bytesValue, what) ?? '', 'base64');
  if ('arrayValue' in fields) {
    return listAt(objectOf(fields.arrayValue, `${what} arrayValue`), 'values').map((item, index) => anyValueOf(item, `${what}[${index}]`));
  }
  if ('kvlistValue' in fields) return keyValuesOf(listAt(objectOf(fields.kvlistValue, `${what} kvlistValue`), 'values'), what);
  return null;
}
