/**
 * How porthole delivers OTLP exports (src/observability/tracing/otlp/http-sender.ts and
 * transport-env.ts), against real HTTP and HTTPS servers on loopback: headers, gzip, retries on
 * the answers OTLP says to retry (and only those), the export timeout, a refused connection, an
 * https collector trusted through OTEL_EXPORTER_OTLP_CERTIFICATE with a client certificate from
 * OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE/_KEY (certificates made by Debian's openssl), and the
 * variables that stop start-up when they cannot be used.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ConfigError } from '../../src/config/config-error.js';
import { OtlpHttpSender } from '../../src/observability/tracing/otlp/http-sender.js';
import { collectorTransport } from '../../src/observability/tracing/otlp/transport-env.js';
import { freePort } from '../helpers/free-port.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { OpensslCa, type KeyPair } from '../tls/openssl-ca.js';

interface Seen {
  headers: IncomingMessage['headers'];
  body: Buffer;
  clientCn: string | undefined;
}

type Answer = (seen: Seen, response: ServerResponse) => void;

/** A collector stand-in that records every request and answers as told. */
async function collector(answer: Answer, tls?: { key: Buffer; cert: Buffer; ca?: Buffer }): Promise<{ url: URL; seen: Seen[]; server: Server; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const peer = (request.socket as TLSSocket).getPeerCertificate?.();
      const entry: Seen = { headers: request.headers, body: Buffer.concat(chunks), clientCn: peer && 'subject' in peer ? (peer.subject?.CN as string | undefined) : undefined };
      seen.push(entry);
      answer(entry, response);
    });
  };
  const server: Server = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) }, handle)
    : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`${tls ? 'https' : 'http'}://127.0.0.1:${port}/v1/traces`),
    seen,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const ok: Answer = (_seen, response) => response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
const MESSAGE = Buffer.from('0a0012', 'hex');

describe('OTLP/HTTP export', () => {
  test('a POST of the protobuf message, with the configured headers and porthole\'s user agent', async () => {
    const server = await collector(ok);
    try {
      const sender = new OtlpHttpSender(server.url, { 'x-api-key': 'k=1' }, 5_000, 'porthole/test');
      assert.deepEqual(await sender.export(MESSAGE), { ok: true });
      const [seen] = server.seen;
      assert.ok(seen);
      assert.equal(seen.headers['content-type'], 'application/x-protobuf');
      assert.equal(seen.headers['x-api-key'], 'k=1');
      assert.equal(seen.headers['user-agent'], 'porthole/test');
      assert.equal(seen.headers['content-encoding'], undefined);
      assert.deepEqual(seen.body, MESSAGE);
      sender.abort();
    } finally {
      await server.close();
    }
  });

  test('gzip: the body compressed, said in Content-Encoding', async () => {
    const server = await collector(ok);
    try {
      const sender = new OtlpHttpSender(server.url, {}, 5_000, 'porthole/test', { tls: {}, gzip: true });
      assert.deepEqual(await sender.export(MESSAGE), { ok: true });
      assert.equal(server.seen[0]?.headers['content-encoding'], 'gzip');
      assert.deepEqual(gunzipSync(server.seen[0]?.body ?? Buffer.alloc(0)), MESSAGE);
      sender.abort();
    } finally {
      await server.close();
    }
  });

  test('503 and 429 are tried again (Retry-After followed) until the collector takes it', async () => {
    let answered = 0;
    const server = await collector((_seen, response) => {
      answered += 1;
      if (answered === 1) response.writeHead(503, { 'retry-after': '0' }).end('overloaded');
      else if (answered === 2) response.writeHead(429).end();
      else ok(_seen, response);
    });
    try {
      const sender = new OtlpHttpSender(server.url, {}, 5_000, 'porthole/test');
      assert.deepEqual(await sender.export(MESSAGE), { ok: true });
      assert.equal(server.seen.length, 3);
      sender.abort();
    } finally {
      await server.close();
    }
  });

  test('another answer fails at once, saying the status and the start of what the collector said', async () => {
    const server = await collector((_seen, response) => response.writeHead(400, { 'content-type': 'text/plain' }).end('bad protobuf: field 1'));
    try {
      const sender = new OtlpHttpSender(server.url, {}, 5_000, 'porthole/test');
      assert.deepEqual(await sender.export(MESSAGE), { ok: false, reason: '400 Bad Request: bad protobuf: field 1' });
      assert.equal(server.seen.length, 1);
      sender.abort();
    } finally {
      await server.close();
    }
  });

  test('a collector that never answers: given up on after the export timeout, not retried', async () => {
    const server = await collector(() => undefined);
    try {
      const sender = new OtlpHttpSender(server.url, {}, 300, 'porthole/test');
      const started = Date.now();
      assert.deepEqual(await sender.export(MESSAGE), { ok: false, reason: 'timed out after 300 ms' });
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2_000, `took ${took} ms`);
      assert.equal(server.seen.length, 1);
      sender.abort();
    } finally {
      await server.close();
    }
  });

  test('nothing listening: tried again until the export timeout, then the connection error', async () => {
    const url = new URL(`http://127.0.0.1:${await freePort()}/v1/traces`);
    const sender = new OtlpHttpSender(url, {}, 700, 'porthole/test');
    const started = Date.now();
    const outcome = await sender.export(MESSAGE);
    const took = Date.now() - started;
    assert.equal(outcome.ok, false);
    assert.match(outcome.ok ? '' : outcome.reason, /ECONNREFUSED/);
    assert.ok(took < 2_000, `took ${took} ms`);
    sender.abort();
  });

  test('abort() ends an export in flight at once', async () => {
    const server = await collector(() => undefined);
    try {
      const sender = new OtlpHttpSender(server.url, {}, 30_000, 'porthole/test');
      const exporting = sender.export(MESSAGE);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      sender.abort();
      const outcome = await exporting;
      assert.equal(outcome.ok, false);
      assert.ok(Date.now() - started < 1_000);
    } finally {
      await server.close();
    }
  });
});

describe('an https collector through the OTEL_EXPORTER_OTLP_* certificate variables', { skip: skipUnlessTools('openssl') }, () => {
  let work: string;
  let ca: OpensslCa;
  let serverPair: KeyPair;
  let clientPair: KeyPair;

  before(async () => {
    work = await tempDir('otlp-tls');
    ca = await OpensslCa.create(join(work, 'ca'), 'collector-ca');
    serverPair = await ca.issue('collector', { cn: '127.0.0.1', usage: 'server', san: ['IP:127.0.0.1'] });
    clientPair = await ca.issue('porthole', { cn: 'porthole-replica', usage: 'client' });
  });
  after(() => cleanup(work));

  const tlsOf = async (pair: KeyPair, clientCa?: string) => ({
    key: await readFile(pair.key),
    cert: await readFile(pair.certificate),
    ...(clientCa ? { ca: await readFile(clientCa) } : {}),
  });

  test('trusted through OTEL_EXPORTER_OTLP_CERTIFICATE; refused without it', async () => {
    const server = await collector(ok, await tlsOf(serverPair));
    try {
      const trusted = new OtlpHttpSender(server.url, {}, 5_000, 'porthole/test', collectorTransport({ OTEL_EXPORTER_OTLP_CERTIFICATE: ca.certificate }));
      assert.deepEqual(await trusted.export(MESSAGE), { ok: true });
      trusted.abort();
      const untrusted = new OtlpHttpSender(server.url, {}, 1_000, 'porthole/test', collectorTransport({}));
      const outcome = await untrusted.export(MESSAGE);
      assert.equal(outcome.ok, false);
      assert.match(outcome.ok ? '' : outcome.reason, /certificate/i);
      untrusted.abort();
    } finally {
      await server.close();
    }
  });

  test('a client certificate from the _TRACES_ variables, which win over the general ones', async () => {
    const server = await collector(ok, await tlsOf(serverPair, ca.certificate));
    try {
      const transport = collectorTransport({
        OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: ca.certificate,
        OTEL_EXPORTER_OTLP_CERTIFICATE: join(work, 'missing.pem'),
        OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: clientPair.certificate,
        OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: clientPair.key,
      });
      const sender = new OtlpHttpSender(server.url, {}, 5_000, 'porthole/test', transport);
      assert.deepEqual(await sender.export(MESSAGE), { ok: true });
      assert.equal(server.seen[0]?.clientCn, 'porthole-replica');
      sender.abort();
    } finally {
      await server.close();
    }
  });

  test('variables that cannot be used stop start-up, each named', () => {
    const missing = join(work, 'missing.pem');
    assert.throws(() => collectorTransport({ OTEL_EXPORTER_OTLP_CERTIFICATE: missing }), (err: unknown) => err instanceof ConfigError && /OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read ".*missing\.pem" \(ENOENT\)/.test(err.message));
    assert.throws(() => collectorTransport({ OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: clientPair.certificate }), /a client certificate needs both/);
    assert.throws(() => collectorTransport({ OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'br' }), /OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "br" is not gzip or none/);
    assert.deepEqual(collectorTransport({ OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }), { tls: {}, gzip: true });
    assert.deepEqual(collectorTransport({ OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }), { tls: {}, gzip: false });
  });
});
