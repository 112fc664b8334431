import { request as httpRequest, type ClientRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RawResponse } from './raw-http.js';

export interface StreamRequest {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  /** Written one after another; without a Content-Length header the body goes chunked. */
  pieces: Iterable<Buffer>;
  /** Pause between pieces, to keep a request in flight for a while. */
  pauseMs?: number;
  /** Bound on the whole exchange. */
  timeoutMs?: number;
}

export interface StreamHandle {
  /** Settles with the answer, or rejects when the connection breaks (a killed server, say). */
  response: Promise<RawResponse>;
  request: ClientRequest;
}

function drainedOrClosed(request: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      request.off('drain', done);
      request.off('close', done);
      resolve();
    };
    request.on('drain', done);
    request.on('close', done);
  });
}

/**
 * Sends a request body piece by piece over node:http (raw() sends one buffer at once). Used for
 * streamed PATCH uploads and for uploads that must still be running when the server is killed.
 */
export function streamRequest(baseUrl: string, options: StreamRequest): StreamHandle {
  const url = new URL(baseUrl);
  const request = httpRequest({ host: url.hostname, port: url.port, method: options.method, path: options.path, headers: options.headers, agent: false });
  const response = new Promise<RawResponse>((resolve, reject) => {
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const json = (): unknown => {
          try {
            return JSON.parse(body.toString('utf8'));
          } catch {
            return undefined;
          }
        };
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    request.on('error', reject);
  });
  request.setTimeout(options.timeoutMs ?? 60_000, () => request.destroy(new Error(`${options.method} ${options.path} timed out`)));
  void (async () => {
    for (const piece of options.pieces) {
      if (request.destroyed) return;
      // Respect back-pressure, so "in flight" means on the wire, not queued in this process.
      if (!request.write(piece)) await drainedOrClosed(request);
      if (options.pauseMs) await sleep(options.pauseMs);
    }
    if (!request.destroyed) request.end();
  })();
  return { response, request };
}
