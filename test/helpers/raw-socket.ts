import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RawResponse } from './raw-http.js';

/**
 * HTTP/1.1 written byte by byte on a node:net socket, for what node:http refuses to send or
 * cannot survive: bodies that lie about their length, clients that hang up mid-body, and bodies
 * the server answers before reading (node:http's client fails with EPIPE when a 413 arrives
 * while it is still writing; a real client, like curl, just stops sending and reads the answer).
 */
export interface SocketExchange {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  /** Sent as is after the headers, whatever Content-Length says (extra bytes may be a pipelined request). */
  body?: Buffer | string;
  /**
   * 'answer' (default): read responses until `responses` arrived or the server closed.
   * 'hang-up': close the socket once the bytes are written, reading nothing.
   */
  mode?: 'answer' | 'hang-up';
  /** How many responses to wait for in 'answer' mode (pipelined requests); 1 by default. */
  responses?: number;
  /**
   * Pause after the headers and again after the body. Bytes that arrive in one read with the
   * hang-up may be dropped by the server before any handler sees them; pausing makes sure the
   * server has started on the request and received the partial body before the socket closes.
   */
  pauseMs?: number;
  timeoutMs?: number;
}

function headBytes(exchange: SocketExchange, host: string): Buffer {
  const lines = [`${exchange.method} ${exchange.path} HTTP/1.1`, `host: ${host}`];
  for (const [name, value] of Object.entries(exchange.headers ?? {})) lines.push(`${name}: ${value}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The complete responses at the start of `data` (a response without Content-Length ends at close). */
function parseResponses(data: Buffer, connectionClosed: boolean): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = data;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) return responses;
    const [statusLine = '', ...headerLines] = rest.subarray(0, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const headers: IncomingHttpHeaders = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const declared = headers['content-length'];
    const bodyStart = headEnd + 4;
    let bodyEnd: number;
    if (declared !== undefined) bodyEnd = bodyStart + Number(declared);
    else if (connectionClosed) bodyEnd = rest.length;
    else return responses;
    if (rest.length < bodyEnd) return responses;
    const body = rest.subarray(bodyStart, bodyEnd);
    const json = (): unknown => {
      try {
        return JSON.parse(body.toString('utf8'));
      } catch {
        return undefined;
      }
    };
    responses.push({ status, headers, body, json });
    rest = rest.subarray(bodyEnd);
  }
}

function writeAll(socket: ReturnType<typeof connect>, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => socket.write(bytes, () => resolve()));
}

/**
 * Writes one request (plus whatever its body carries beyond Content-Length) on a fresh
 * connection and resolves with the responses read: none in 'hang-up' mode. Write errors after
 * the server has answered are ignored, as a client that stops sending would.
 */
export function socketExchange(baseUrl: string, exchange: SocketExchange): Promise<RawResponse[]> {
  const url = new URL(baseUrl);
  const wanted = exchange.responses ?? 1;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (responses: RawResponse[]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(responses);
    };
    const timer = setTimeout(() => {
      settled = true;
      socket.destroy();
      reject(new Error(`${exchange.method} ${exchange.path} over a raw socket timed out`));
    }, exchange.timeoutMs ?? 15_000);

    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const responses = parseResponses(received, false);
      if (exchange.mode !== 'hang-up' && responses.length >= wanted) settle(responses);
    });
    socket.on('close', () => settle(exchange.mode === 'hang-up' ? [] : parseResponses(received, true)));
    socket.on('error', () => undefined);

    void (async () => {
      const head = headBytes(exchange, url.host);
      const body = exchange.body === undefined ? Buffer.alloc(0) : Buffer.from(exchange.body);
      if (exchange.pauseMs === undefined) {
        await writeAll(socket, Buffer.concat([head, body]));
      } else {
        await writeAll(socket, head);
        await sleep(exchange.pauseMs);
        if (body.length > 0) await writeAll(socket, body);
        await sleep(exchange.pauseMs);
      }
      if (exchange.mode === 'hang-up') socket.destroy();
    })();
  });
}
