import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessLineWriter, fieldKey, jsonString } from '../../src/observability/access-line-writer.js';
import { createLogger } from '../../src/observability/logger.js';

/** The text each logger writes, line by line. */
function capture(): { lines: string[]; destination: { write(text: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (text: string) => void lines.push(text) } };
}

type FieldValue = string | number | boolean | undefined;

/** The fields access-log.ts writes unchecked (FieldSink.plain): none of their values needs escaping. */
const PLAIN = new Set(['reqId', 'method', 'route']);

/** Each field through the writer's method for its type, as access-log.ts calls them. */
function writeFields(writer: AccessLineWriter, fields: Record<string, FieldValue>): void {
  for (const [key, value] of Object.entries(fields)) {
    if (PLAIN.has(key) && typeof value === 'string') writer.plain(fieldKey(key), value);
    else if (typeof value === 'number') writer.number(fieldKey(key), value);
    else if (typeof value === 'boolean') writer.boolean(fieldKey(key), value);
    else writer.string(fieldKey(key), value);
  }
}

const FIELDS: Array<Record<string, FieldValue>> = [
  {
    reqId: '680fb9eb-b0ec-4185-ba4a-0bae2b5d9498',
    method: 'GET',
    route: '/v2/:name/manifests/:reference',
    path: '/v2/lib/app/manifests/v1',
    status: 200,
    latency: 0.00003784599999926286,
    bytesIn: 0,
    bytesOut: 405,
    clientIP: '127.0.0.1',
    userAgent: undefined,
    user: 'anonymous',
    repo: 'lib/app',
    reference: 'v1',
  },
  {
    reqId: 'x',
    method: 'PUT',
    route: 'unrouted',
    path: '/v2/a"b\\c/\u0001\u00e9\u2028/blobs/uploads/1',
    status: 400,
    latency: 12.5,
    bytesIn: Number.NaN,
    bytesOut: Number.POSITIVE_INFINITY,
    clientIP: '::1',
    userAgent: 'skopeo/1.13 "quoted" \ttab',
    user: 'ünïcode',
    query: 'digest=sha256%3Aabc&_state=REDACTED',
    error: 'DIGEST_INVALID',
    aborted: true,
  },
];

describe('the access line writer', () => {
  for (const level of ['info', 'debug'] as const) {
    it(`writes at ${level} byte for byte what pino writes for the same fields`, () => {
      const viaPino = capture();
      const direct = capture();
      const pinoLogger = createLogger({ level: 'debug' }, viaPino.destination).child({ replica: 'host:5000' }).child({ module: 'http' });
      const directLogger = createLogger({ level: 'debug' }, direct.destination).child({ replica: 'host:5000' }).child({ module: 'http' });
      const writer = new AccessLineWriter(directLogger, 'request served');
      for (const fields of FIELDS) {
        pinoLogger[level](fields, 'request served');
        writer.start(level);
        writeFields(writer, fields);
        writer.end();
      }
      // Lines of the same millisecond share their time; lines that straddle one differ there only.
      const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":""');
      assert.deepEqual(direct.lines.map(withoutTime), viaPino.lines.map(withoutTime));
      assert.equal(direct.lines.length, FIELDS.length);
      for (const line of direct.lines) assert.doesNotThrow(() => JSON.parse(line));
    });
  }

  it('escapes strings exactly as JSON.stringify does, on the fast path and off it', () => {
    const samples = ['', 'plain/ascii:v1.0', 'a"b', 'back\\slash', 'tab\there', '\u0000\u001f\u007f', 'ünïcode €', '\u2028\u2029', '\ud83d\ude00', 'lone \ud800', 'lone \udfff end'];
    for (let code = 0; code < 0x110; code += 1) samples.push(`x${String.fromCharCode(code)}y`);
    for (const sample of samples) assert.equal(jsonString(sample), JSON.stringify(sample), JSON.stringify(sample));
  });
});
