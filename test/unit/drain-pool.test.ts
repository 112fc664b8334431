import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DrainPool } from '../../src/loadgen/drain-pool.js';
import { describeTransportError, ExchangeError, ProgressWatchdog, type ExchangeResult } from '../../src/loadgen/http-exchange.js';
import type { TlsSettings } from '../../src/loadgen/registry-session.js';
import { freePort } from '../helpers/free-port.js';
import { skipUnlessTools } from '../helpers/tools.js';

const PLAIN: TlsSettings = { rejectUnauthorized: true };

/** Rejects when `promise` has not settled within `ms`: no wait in this file is unbounded. */
async function bounded<T>(promise: Promise<T>, ms = 5000, what = 'the exchange'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The ExchangeError `promise` rejects with (within `ms`). */
async function rejection(promise: Promise<unknown>, ms = 5000): Promise<ExchangeError> {
  const outcome = await bounded(
    promise.then(
      (result) => new Error(`resolved instead: ${JSON.stringify(result)}`),
      (err: unknown) => err,
    ),
    ms,
  );
  assert.ok(outcome instanceof ExchangeError, `expected an ExchangeError, got ${String(outcome)}`);
  return outcome;
}

/** Polls `condition` every 10 ms for at most `ms`. */
async function until(what: string, condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A server on 127.0.0.1 that counts the TCP connections it accepted and closes them all at the end. */
interface Served {
  url(path?: string): URL;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections still open on the server's side. */
  readonly open: number;
  close(): Promise<void>;
}

async function serve(server: Server, protocol: 'http' | 'https' = 'http'): Promise<Served> {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: (path = '/') => new URL(path, `${protocol}://127.0.0.1:${port}`),
    get connections() {
      return connections;
    },
    get open() {
      return sockets.size;
    },
    close: () =>
      bounded(
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
        3000,
        'the server to close',
      ),
  };
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

function httpServer(handler: Handler): Promise<Served> {
  return serve(
    createHttpServer((request, response) => {
      void Promise.resolve(handler(request, response)).catch((err: unknown) => response.destroy(err as Error));
    }),
  );
}

/**
 * A node:net server that speaks raw bytes: `answer` is called for each request head (a GET has no
 * body) with the socket, the connection's number (1 for the first) and the request's number on it.
 */
function rawServer(answer: (socket: Socket, connection: number, request: number) => void): Promise<Served> {
  let connections = 0;
  return serve(
    createNetServer((socket) => {
      const connection = ++connections;
      let requests = 0;
      let pending = '';
      socket.on('error', () => undefined);
      socket.on('data', (data: Buffer) => {
        pending += data.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
          pending = pending.slice(end + 4);
          answer(socket, connection, ++requests);
        }
      });
    }),
  );
}

function blob(size: number, fill = 0x61): Buffer {
  return Buffer.alloc(size, fill);
}

function get(pool: DrainPool, url: URL, headers: Record<string, string> = {}): Promise<ExchangeResult> {
  return bounded(pool.exchange({ url, headers }));
}

function assertTimes(result: ExchangeResult): void {
  assert.ok(result.ttfbMs > 0, `ttfbMs ${result.ttfbMs}`);
  assert.ok(result.ttfbMs <= result.totalMs, `ttfbMs ${result.ttfbMs} > totalMs ${result.totalMs}`);
  assert.equal(result.bytesSent, 0);
  assert.equal(result.body, undefined);
}

/** Runs `body` with a pool and servers, destroying the pool and closing every server however it ends. */
async function withPool(pool: DrainPool, servers: Served[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await pool.destroy();
    await Promise.all(servers.map((server) => server.close()));
  }
}

describe('DrainPool over HTTP/1.1', () => {
  it('keeps one connection alive over many sequential requests, sending GET with path, query, host and headers', async () => {
    const seen: Array<{ method: string | undefined; url: string | undefined; host: string | undefined; accept: string | undefined }> = [];
    const server = await httpServer((request, response) => {
      seen.push({ method: request.method, url: request.url, host: request.headers.host, accept: request.headers.accept });
      response.writeHead(200, { 'content-length': 1000 }).end(blob(1000));
    });
    const pool = new DrainPool(4, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      for (let i = 0; i < 50; i += 1) {
        const result = await get(pool, server.url(`/v2/library/alpine/blobs/sha256:${i}?n=${i}`), { accept: 'application/octet-stream' });
        assert.equal(result.status, 200);
        assert.equal(result.bytesReceived, 1000);
        assertTimes(result);
      }
      assert.equal(server.connections, 1, 'every request went over one kept-alive connection');
      assert.equal(seen.length, 50);
      assert.deepEqual(seen[7], { method: 'GET', url: '/v2/library/alpine/blobs/sha256:7?n=7', host: server.url().host, accept: 'application/octet-stream' });
    });
  });

  it('counts a Content-Length body written in pieces with delays, to the byte', async () => {
    const pieces = [1, 4095, 70_000, 3, 200_000, 17, 65_536];
    const total = pieces.reduce((sum, size) => sum + size, 0);
    const server = await httpServer(async (_request, response) => {
      response.writeHead(200, { 'content-length': total, 'content-type': 'application/octet-stream', 'docker-content-digest': 'sha256:abc' });
      response.flushHeaders();
      for (const size of pieces) {
        await sleep(15);
        response.write(blob(size));
      }
      response.end();
    });
    const pool = new DrainPool(2, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      for (let round = 0; round < 2; round += 1) {
        const result = await get(pool, server.url('/blob'));
        assert.equal(result.status, 200);
        assert.equal(result.bytesReceived, total);
        assert.equal(result.headers['content-length'], String(total));
        assert.equal(result.headers['content-type'], 'application/octet-stream');
        assert.equal(result.headers['docker-content-digest'], 'sha256:abc');
        assertTimes(result);
        assert.ok(result.totalMs - result.ttfbMs >= 50, `the body took ${result.totalMs - result.ttfbMs} ms after the head`);
      }
      assert.equal(server.connections, 1, 'the answer ended exactly where its length said: the connection was reused');
    });
  });

  it('counts a chunked body written in pieces with delays, trailers included', async () => {
    const pieces = [10, 1, 100_000, 5, 64 * 1024, 1];
    const total = pieces.reduce((sum, size) => sum + size, 0);
    const server = await httpServer(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'x-checksum' });
      for (const size of pieces) {
        response.write(blob(size, 0x0d)); // CR bytes in the data, to confuse a careless framer
        await sleep(10);
      }
      response.addTrailers({ 'x-checksum': 'abc' });
      response.end();
    });
    const pool = new DrainPool(2, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      for (let round = 0; round < 2; round += 1) {
        const result = await get(pool, server.url('/chunked'));
        assert.equal(result.status, 200);
        assert.equal(result.headers['transfer-encoding'], 'chunked');
        assert.equal(result.bytesReceived, total);
        assertTimes(result);
      }
      assert.equal(server.connections, 1);
    });
  });

  it('answers a 401 with its www-authenticate header, and a redirect with its location, without following it', async () => {
    const challenge = 'Bearer realm="http://127.0.0.1:1/token",service="registry.test",scope="repository:a/b:pull"';
    const server = await httpServer((request, response) => {
      if (request.url === '/v2/a/b/blobs/sha256:1') {
        response.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      } else if (request.url === '/v2/a/b/blobs/sha256:2') {
        response.writeHead(307, { location: 'http://storage.invalid/blob?sig=x', 'content-length': 0 }).end();
      } else {
        response.writeHead(302, { location: '/elsewhere' }).end('moved');
      }
    });
    const pool = new DrainPool(2, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      const denied = await get(pool, server.url('/v2/a/b/blobs/sha256:1'));
      assert.equal(denied.status, 401);
      assert.equal(denied.headers['www-authenticate'], challenge);
      assert.equal(denied.bytesReceived, '{"errors":[{"code":"UNAUTHORIZED"}]}'.length);
      assertTimes(denied);
      const redirected = await get(pool, server.url('/v2/a/b/blobs/sha256:2'));
      assert.equal(redirected.status, 307);
      assert.equal(redirected.headers.location, 'http://storage.invalid/blob?sig=x');
      assert.equal(redirected.bytesReceived, 0);
      const moved = await get(pool, server.url('/other'));
      assert.equal(moved.status, 302);
      assert.equal(moved.headers.location, '/elsewhere');
      assert.equal(moved.bytesReceived, 5);
      assert.equal(server.connections, 1);
    });
  });

  it('runs more requests than connections: the rest wait, and the server never sees more than the pool size', async () => {
    let active = 0;
    let most = 0;
    const server = await httpServer(async (request, response) => {
      active += 1;
      most = Math.max(most, active);
      await sleep(20);
      const size = 1000 + Number(new URL(request.url ?? '/', 'http://x').searchParams.get('n'));
      response.writeHead(200, { 'content-length': size }).end(blob(size));
      active -= 1;
    });
    const pool = new DrainPool(2, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      const results = await bounded(Promise.all(Array.from({ length: 10 }, (_, n) => pool.exchange({ url: server.url(`/blob?n=${n}`), headers: {} }))));
      results.forEach((result, n) => {
        assert.equal(result.status, 200);
        assert.equal(result.bytesReceived, 1000 + n);
        assertTimes(result);
      });
      assert.ok(server.connections <= 2, `${server.connections} connections`);
      assert.ok(most <= 2, `${most} requests at once`);
      // A waiter's time counts from its call: the last ones waited for the first ones.
      assert.ok(Math.max(...results.map((result) => result.totalMs)) >= 60);
    });
  });

  it('sends a request again on a new connection when the server closed the idle one (keepAliveTimeout)', async () => {
    const http = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-length': 3 }).end('abc');
    });
    // node:http closes an idle connection a second after keepAliveTimeout (its own allowance).
    http.keepAliveTimeout = 30;
    const server = await serve(http);
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      assert.equal((await get(pool, server.url('/a'))).status, 200);
      await until('the server to close the idle connection', () => server.open === 0);
      await sleep(20);
      const again = await get(pool, server.url('/b'));
      assert.equal(again.status, 200);
      assert.equal(again.bytesReceived, 3);
      assert.equal(server.connections, 2);
    });
  });

  it('answers requests sent about when the server closes its idle connection', async () => {
    // node:http waits a second more than keepAliveTimeout; this server closes after 30 ms idle.
    const idle = new Map<Socket, NodeJS.Timeout>();
    const server = await rawServer((socket) => {
      clearTimeout(idle.get(socket));
      if (socket.writableEnded) return; // too late: the client sees the close before any answer
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
      idle.set(
        socket,
        setTimeout(() => socket.end(), 30),
      );
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      for (let i = 0; i < 12; i += 1) {
        await sleep(24 + i);
        const result = await get(pool, server.url(`/${i}`));
        assert.equal(result.status, 200, `request ${i}`);
        assert.equal(result.bytesReceived, 3);
      }
      for (const timer of idle.values()) clearTimeout(timer);
    });
  });

  it('sends a request once more when its kept-alive connection closes before any byte of the answer', async () => {
    for (const how of ['end', 'reset'] as const) {
      const server = await rawServer((socket, connection, request) => {
        if (connection === 1 && request === 2) {
          // The race of a keep-alive timeout: the server closes as the request arrives.
          if (how === 'end') socket.end();
          else socket.resetAndDestroy();
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
      const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
      await withPool(pool, [server], async () => {
        assert.equal((await get(pool, server.url('/1'))).status, 200);
        const again = await get(pool, server.url('/2'));
        assert.equal(again.status, 200, how);
        assert.equal(again.bytesReceived, 2);
        assert.equal(server.connections, 2, how);
      });
    }
  });

  it('sends a request again only once, and never on a first use of a connection', async () => {
    // Only the very first request is answered; every other one sees its connection closed.
    let answered = false;
    const server = await rawServer((socket) => {
      if (answered) {
        socket.end();
        return;
      }
      answered = true;
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      assert.equal((await get(pool, server.url('/1'))).status, 200);
      const err = await rejection(pool.exchange({ url: server.url('/2'), headers: {} }));
      assert.equal(err.timeout, false);
      assert.equal(err.message, 'malformed response: connection closed before the answer was complete');
      assert.equal(server.connections, 2, 'the kept-alive connection, then one new one');
      const fresh = await rejection(pool.exchange({ url: server.url('/3'), headers: {} }));
      assert.match(fresh.message, /closed/);
      assert.equal(server.connections, 3, 'a new connection that closes is not tried again');
    });
  });

  it('counts a close-delimited body and an HTTP/1.0 answer, and does not reuse their connections', async () => {
    const server = await rawServer((socket, connection) => {
      if (connection === 1) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
        socket.write(blob(100_000));
        setTimeout(() => socket.end(blob(23)), 20);
      } else {
        socket.write('HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello');
      }
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      const delimited = await get(pool, server.url('/1'));
      assert.equal(delimited.status, 200);
      assert.equal(delimited.bytesReceived, 100_023);
      assertTimes(delimited);
      const old = await get(pool, server.url('/2'));
      assert.equal(old.bytesReceived, 5);
      await until('the HTTP/1.0 connection to close', () => server.open === 0);
      assert.equal((await get(pool, server.url('/3'))).bytesReceived, 5);
      assert.equal(server.connections, 3);
    });
  });

  it('skips a 100 Continue that comes before the answer', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody'), 20);
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      const result = await get(pool, server.url('/'));
      assert.equal(result.status, 200);
      assert.equal(result.bytesReceived, 4);
    });
  });

  it('takes an answer followed by bytes nobody asked for, and does not trust that connection again', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n');
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      // The second request waits for the only connection, which its answer's stray bytes close.
      const results = await bounded(Promise.all([pool.exchange({ url: server.url('/1'), headers: {} }), pool.exchange({ url: server.url('/2'), headers: {} })]));
      for (const result of results) {
        assert.equal(result.status, 200);
        assert.equal(result.bytesReceived, 2);
      }
      assert.equal(server.connections, 2);
    });
  });

  it('fails with "malformed response" when the server answers garbage, without sending the request again', async () => {
    const server = await rawServer((socket, _connection, request) => {
      if (request === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n');
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      assert.equal((await get(pool, server.url('/1'))).status, 200);
      const err = await rejection(pool.exchange({ url: server.url('/2'), headers: {} }));
      assert.ok(err.message.startsWith('malformed response'), err.message);
      assert.match(err.message, /status line/);
      assert.equal(err.timeout, false);
      assert.equal(server.connections, 1);
      // The connection is gone; the next request gets a new one (and garbage again, on its second request).
      assert.equal((await get(pool, server.url('/3'))).status, 200);
      assert.equal(server.connections, 2);
    });
  });

  it('times out a server that accepts and never answers, or stops in the middle of a body', async () => {
    const server = await rawServer((socket, connection) => {
      if (connection === 2) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a little');
    });
    const pool = new DrainPool(2, PLAIN, new ProgressWatchdog(300));
    await withPool(pool, [server], async () => {
      for (const path of ['/silent', '/stalled']) {
        const started = performance.now();
        const err = await rejection(pool.exchange({ url: server.url(path), headers: {} }), 3000);
        const took = performance.now() - started;
        assert.equal(err.timeout, true, path);
        assert.equal(err.message, 'no progress within 300 ms');
        assert.ok(took >= 250 && took < 2000, `${path} timed out after ${took} ms`);
      }
      await until('the timed-out connections to close', () => server.open === 0);
    });
  });

  it('fails with the transport error when the connection is refused', async () => {
    const port = await freePort();
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [], async () => {
      const err = await rejection(pool.exchange({ url: new URL(`http://127.0.0.1:${port}/v2/`), headers: {} }));
      assert.equal(err.timeout, false);
      assert.match(err.message, /ECONNREFUSED/);
      const expected = describeTransportError(Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED' }));
      assert.equal(err.message, expected);
      // The failed connection gave its place back: the only slot is free for the next try.
      const again = await rejection(pool.exchange({ url: new URL(`http://127.0.0.1:${port}/v2/`), headers: {} }));
      assert.equal(again.message, expected);
    });
  });

  it('refuses a header value with a line break, sending nothing', async () => {
    const server = await httpServer((_request, response) => void response.end());
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      const err = await rejection(pool.exchange({ url: server.url('/'), headers: { authorization: 'Bearer x\r\nX-Injected: 1' } }));
      assert.match(err.message, /line break/);
      assert.equal(server.connections, 0);
    });
  });

  it('closes an idle connection to another origin to make room, at once or when a busy one is done', async () => {
    const first = await httpServer(async (request, response) => {
      if (request.url === '/slow') await sleep(100);
      response.writeHead(200, { 'content-length': 1 }).end('a');
    });
    const second = await httpServer((_request, response) => {
      response.writeHead(200, { 'content-length': 2 }).end('bb');
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [first, second], async () => {
      assert.equal((await get(pool, first.url('/'))).bytesReceived, 1);
      assert.equal((await get(pool, second.url('/'))).bytesReceived, 2);
      await until("the first origin's idle connection to close", () => first.open === 0);
      // Now one request to each at once: the second origin's waits for the first's to finish.
      const [slow, other] = await bounded(Promise.all([pool.exchange({ url: first.url('/slow'), headers: {} }), pool.exchange({ url: second.url('/'), headers: {} })]));
      assert.equal(slow.bytesReceived, 1);
      assert.equal(other.bytesReceived, 2);
      assert.ok(other.totalMs >= 90, `the waiter took ${other.totalMs} ms`);
      assert.equal(first.connections, 2);
      assert.equal(second.connections, 2);
      await until('only the second origin to be connected', () => first.open === 0 && second.open === 1);
    });
  });

  it('after close(), refuses new requests, lets one in flight finish and then closes its connection', async () => {
    let requests = 0;
    const server = await httpServer(async (_request, response) => {
      requests += 1;
      await sleep(50);
      response.writeHead(200, { 'content-length': 3 }).end('abc');
    });
    const pool = new DrainPool(2, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      assert.equal((await get(pool, server.url('/'))).status, 200);
      const inFlight = pool.exchange({ url: server.url('/'), headers: {} });
      await until('the request to reach the server', () => requests === 2);
      await pool.close();
      const err = await rejection(pool.exchange({ url: server.url('/'), headers: {} }));
      assert.match(err.message, /closing/);
      const finished = await bounded(inFlight);
      assert.equal(finished.bytesReceived, 3);
      await until('the connection to close', () => server.open === 0);
    });
  });

  it('after destroy(), ends requests in flight and waiting with a rejection', async () => {
    let headSent = false;
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nthe beginning of a body');
      headSent = true;
    });
    const pool = new DrainPool(1, PLAIN, new ProgressWatchdog(5000));
    await withPool(pool, [server], async () => {
      const inFlight = pool.exchange({ url: server.url('/1'), headers: {} });
      const waiting = pool.exchange({ url: server.url('/2'), headers: {} });
      await until('the server to answer in part', () => headSent);
      await sleep(30);
      const started = performance.now();
      await pool.destroy();
      const [first, second] = await Promise.all([rejection(inFlight, 2000), rejection(waiting, 2000)]);
      assert.equal(first.timeout, false);
      assert.match(second.message, /closing/);
      assert.ok(performance.now() - started < 1000);
      await until('the connection to close', () => server.open === 0);
      assert.equal(server.connections, 1);
      await rejection(pool.exchange({ url: server.url('/3'), headers: {} }));
    });
  });
});

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 20_000 }, (err, _stdout, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve()));
  });
}

describe('DrainPool over HTTPS', { skip: skipUnlessTools('openssl') }, () => {
  let dir = '';
  let certificate = Buffer.alloc(0);
  let server: Served | undefined;
  const size = 300_000;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'porthole-drain-pool-'));
    const keyFile = join(dir, 'server.key');
    const certificateFile = join(dir, 'server.crt');
    // A self-signed certificate for 127.0.0.1 (EC P-256: made in milliseconds).
    const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
    await openssl(['req', '-x509', ...newKey, '-out', certificateFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    certificate = await readFile(certificateFile);
    const https = createHttpsServer({ key: await readFile(keyFile), cert: certificate }, (request, response) => {
      void (async () => {
        if (request.url === '/chunked') {
          response.writeHead(200);
          for (let sent = 0; sent < size; sent += 50_000) {
            response.write(blob(50_000));
            await sleep(5);
          }
          response.end();
        } else {
          response.writeHead(200, { 'content-length': size }).end(blob(size));
        }
      })();
    });
    server = await serve(https, 'https');
  });

  after(async () => {
    await server?.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  function running(): Served {
    assert.ok(server !== undefined);
    return server;
  }

  it('reads answers over TLS, with keep-alive, when the certificate is trusted via ca', async () => {
    const served = running();
    const before = served.connections;
    const pool = new DrainPool(2, { ca: certificate, rejectUnauthorized: true }, new ProgressWatchdog(5000));
    try {
      for (const path of ['/blob', '/chunked', '/blob', '/chunked']) {
        const result = await get(pool, served.url(path));
        assert.equal(result.status, 200);
        assert.equal(result.bytesReceived, size, path);
        assertTimes(result);
      }
      assert.equal(served.connections - before, 1);
    } finally {
      await pool.destroy();
    }
  });

  it('refuses an untrusted certificate', async () => {
    const pool = new DrainPool(1, { rejectUnauthorized: true }, new ProgressWatchdog(5000));
    try {
      const err = await rejection(pool.exchange({ url: running().url('/blob'), headers: {} }));
      assert.equal(err.timeout, false);
      assert.match(err.message, /^DEPTH_ZERO_SELF_SIGNED_CERT/);
    } finally {
      await pool.destroy();
    }
  });

  it('reads over TLS without checking the certificate when rejectUnauthorized is false', async () => {
    const pool = new DrainPool(1, { rejectUnauthorized: false }, new ProgressWatchdog(5000));
    try {
      const result = await get(pool, running().url('/chunked'));
      assert.equal(result.status, 200);
      assert.equal(result.bytesReceived, size);
    } finally {
      await pool.destroy();
    }
  });
});
