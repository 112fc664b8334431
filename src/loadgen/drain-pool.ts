import type { IncomingHttpHeaders } from 'node:http';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { describeTransportError, ExchangeError, type ExchangeResult, type ProgressWatchdog } from './http-exchange.js';
import type { TlsSettings } from './registry-session.js';
import { ProtocolError, ResponseReader } from './response-reader.js';

/**
 * Each connection reads into one buffer of its own, reused for every read: what wrk does, and
 * what keeps porthole-bench from being the bottleneck of a pull (undici allocates a buffer per
 * read and copies it into its parser's memory; at several GB/s that copy is most of a core).
 */
const READ_BUFFER_BYTES = 64 * 1024;

export interface DrainRequest {
  url: URL;
  headers: Record<string, string>;
}

interface Waiter {
  url: URL;
  resolve(connection: Connection): void;
  reject(err: Error): void;
}

/** What one request on a connection reports back. */
interface Exchange {
  reader: ResponseReader;
  fail(err: Error): void;
  progress(): void;
}

/** One keep-alive HTTP/1.1 connection to one origin, carrying one request at a time. */
class Connection {
  readonly socket: Socket;
  private current: Exchange | undefined;
  /** Whether an answer has come over it: a failure before any byte on a used connection is a stale keep-alive. */
  used = false;
  open = true;

  readonly origin: string;

  constructor(
    url: URL,
    tls: TlsSettings,
    private readonly onGone: (connection: Connection) => void,
  ) {
    this.origin = url.origin;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (length: number, buffer: Buffer) => {
        this.read(buffer, length);
        // false would stop reading; a closed connection stops by itself.
        return true;
      },
    };
    this.socket =
      url.protocol === 'https:'
        ? connectTls({
            // tls.connect takes net.connect's onread (Node's documentation); its type does not say so.
            ...({ onread } as ConnectionOptions),
            host,
            port,
            ...(isIP(host) === 0 ? { servername: host } : {}),
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            rejectUnauthorized: tls.rejectUnauthorized,
            ALPNProtocols: ['http/1.1'],
          })
        : connectTcp({ host, port, onread });
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => this.gone(err));
    this.socket.on('end', () => this.gone(undefined));
    this.socket.on('close', () => this.gone(undefined));
  }

  start(exchange: Exchange, request: string): void {
    this.current = exchange;
    this.socket.write(request);
  }

  /** The answer is complete: the connection is free again (or closed, when it may not be reused). */
  done(reusable: boolean): void {
    this.current = undefined;
    this.used = true;
    if (!reusable) this.close();
  }

  /** Closes it now; whoever waits on it hears it from `gone`, and the pool forgets it at once. */
  close(): void {
    const wasOpen = this.open;
    this.open = false;
    this.socket.destroy();
    if (wasOpen) this.onGone(this);
  }

  private read(buffer: Buffer, length: number): void {
    const exchange = this.current;
    if (exchange === undefined) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.close();
      return;
    }
    exchange.progress();
    try {
      exchange.reader.feed(buffer, 0, length);
    } catch (err) {
      this.close();
      exchange.fail(err as Error);
    }
  }

  private gone(err: Error | undefined): void {
    const wasOpen = this.open;
    this.open = false;
    const exchange = this.current;
    this.current = undefined;
    if (exchange !== undefined) {
      try {
        if (err !== undefined) throw err;
        exchange.reader.closed();
      } catch (failure) {
        exchange.fail(failure as Error);
      }
    }
    if (wasOpen) {
      this.socket.destroy();
      this.onGone(this);
    }
  }
}

function requestHead(url: URL, headers: Record<string, string>): string {
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new ExchangeError(`header ${name} holds a line break`, false);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * GETs whose answers are counted and dropped (every config and layer of a pull), on pooled
 * keep-alive HTTP/1.1 connections of porthole-bench's own (see READ_BUFFER_BYTES for why not
 * undici's). It answers like `exchange` (http-exchange.ts), with the same watchdog and the same
 * failure descriptions; a request that finds its kept-alive connection closed by the registry is
 * sent once more on a new one, as HTTP clients do with idempotent requests.
 */
export class DrainPool {
  private readonly idle = new Map<string, Connection[]>();
  private readonly waiters: Waiter[] = [];
  private readonly all = new Set<Connection>();
  private closing = false;

  constructor(
    private readonly connections: number,
    private readonly tls: TlsSettings,
    private readonly watchdog: ProgressWatchdog,
  ) {}

  async exchange(request: DrainRequest): Promise<ExchangeResult> {
    const head = requestHead(request.url, request.headers);
    const started = performance.now();
    for (let attempt = 0; ; attempt += 1) {
      const connection = await this.take(request.url);
      try {
        return await this.send(connection, head, started);
      } catch (err) {
        const stale = err instanceof StaleConnection;
        if (!stale || attempt > 0) throw stale ? new ExchangeError('connection closed by the registry', false) : err;
      }
    }
  }

  /** Closes idle connections now and each busy one when its answer is in. */
  async close(): Promise<void> {
    this.stop([...this.idle.values()].flat());
  }

  /** Closes every connection now, busy ones included (a run cut short). */
  async destroy(): Promise<void> {
    this.stop([...this.all]);
  }

  /** Takes no more requests, refuses those waiting, and closes `connections`. */
  private stop(connections: Connection[]): void {
    // Before closing any: a connection that goes must not be handed on to a waiter (forget).
    this.closing = true;
    for (const connection of connections) connection.close();
    this.idle.clear();
    for (const waiter of this.waiters.splice(0)) waiter.reject(closingError());
  }

  private send(connection: Connection, head: string, started: number): Promise<ExchangeResult> {
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      let ttfbMs = 0;
      let bytesReceived = 0;
      let settled = false;
      const entry = {
        lastProgress: performance.now(),
        abort: (err: Error) => {
          connection.close();
          fail(err);
        },
      };
      const unwatch = this.watchdog.watch(entry);
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        unwatch();
        // A clean close before any byte (the reader's ProtocolError from closed()) is a stale keep-alive too;
        // a malformed answer never gets here, since its bytes have started the reader.
        if (connection.used && !reader.started && !(err instanceof ExchangeError)) reject(new StaleConnection());
        else reject(err instanceof ExchangeError ? err : new ExchangeError(err instanceof ProtocolError ? err.message : describeTransportError(err), false));
      };
      const reader = new ResponseReader('GET', {
        head(statusCode, responseHeaders) {
          ttfbMs = performance.now() - started;
          status = statusCode;
          headers = responseHeaders;
        },
        body(length) {
          bytesReceived += length;
        },
        end: (reusable) => {
          connection.done(reusable);
          if (settled) return;
          settled = true;
          unwatch();
          this.release(connection);
          resolve({ status, headers, bytesReceived, bytesSent: 0, body: undefined, ttfbMs, totalMs: performance.now() - started });
        },
      });
      connection.start({ reader, fail, progress: () => (entry.lastProgress = performance.now()) }, head);
    });
  }

  private take(url: URL): Promise<Connection> {
    if (this.closing) return Promise.reject(closingError());
    const idle = this.idle.get(url.origin);
    for (let connection = idle?.pop(); connection !== undefined; connection = idle?.pop()) {
      if (connection.open) return Promise.resolve(connection);
    }
    if (this.all.size < this.connections) return Promise.resolve(this.open(url));
    // Every connection is taken; an idle one to another origin (a storage redirect's) makes room.
    for (const list of this.idle.values()) {
      const spare = list.shift();
      if (spare !== undefined) {
        spare.close();
        return Promise.resolve(this.open(url));
      }
    }
    return new Promise((resolve, reject) => this.waiters.push({ url, resolve, reject }));
  }

  private open(url: URL): Connection {
    const connection = new Connection(url, this.tls, (gone) => this.forget(gone));
    this.all.add(connection);
    return connection;
  }

  /** A connection whose answer is complete goes to the first waiter, or back to the idle ones. */
  private release(connection: Connection): void {
    if (!connection.open) return;
    if (this.closing) {
      connection.close();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      const list = this.idle.get(connection.origin) ?? [];
      list.push(connection);
      this.idle.set(connection.origin, list);
    } else if (waiter.url.origin === connection.origin) {
      waiter.resolve(connection);
    } else {
      this.waiters.unshift(waiter);
      // Closing it makes room for the waiter's own connection (forget).
      connection.close();
    }
  }

  private forget(connection: Connection): void {
    this.all.delete(connection);
    const list = this.idle.get(connection.origin);
    const at = list?.indexOf(connection) ?? -1;
    if (list !== undefined && at !== -1) list.splice(at, 1);
    const waiter = this.closing ? undefined : this.waiters.shift();
    if (waiter !== undefined) waiter.resolve(this.open(waiter.url));
  }
}

function closingError(): ExchangeError {
  return new ExchangeError('porthole-bench is closing its connections', false);
}

/** A kept-alive connection that the registry had closed: the request is sent again on a new one. */
class StaleConnection extends Error {}
