import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request body: chunks handed to the socket as they are (never copied), made afresh for each send. */
export type BodyChunks = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface ExchangeRequest {
  method: Method;
  url: URL;
  headers: Record<string, string>;
  /** Makes the body's chunks; called once per send (an auth retry sends it again). */
  body?: () => BodyChunks;
  /** Keep the response body (manifests, JSON answers) up to this many bytes; other bodies are counted and dropped. */
  keepBody?: number;
}

export interface ExchangeResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body's bytes, counted as they arrive. */
  bytesReceived: number;
  /** The request body's bytes that were handed to the socket. */
  bytesSent: number;
  /** Kept only when asked for (keepBody), and only up to that size. */
  body: Buffer | undefined;
  /** Milliseconds from sending to the response's status line and headers (the first byte of the answer). */
  ttfbMs: number;
  totalMs: number;
}

/** A request that got no complete answer. `timeout` tells a timeout from every other failure. */
export class ExchangeError extends Error {
  constructor(
    message: string,
    readonly timeout: boolean,
  ) {
    super(message);
    this.name = 'ExchangeError';
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** A short, stable description of a transport failure: its code (ECONNREFUSED, UND_ERR_SOCKET) or message. */
export function describeTransportError(err: Error & { code?: string; cause?: unknown }): string {
  const code = (err.cause as { code?: string } | undefined)?.code ?? err.code;
  if (code === 'UND_ERR_SOCKET') return 'connection closed by the registry';
  return code !== undefined && code !== '' ? `${code}${err.message && !err.message.includes(code) ? `: ${err.message}` : ''}` : err.message;
}

interface InFlight {
  lastProgress: number;
  abort(err: Error): void;
}

/**
 * Watches every request in flight and aborts one that has moved no byte, either way, for longer
 * than the timeout: undici's own timeouts cover waiting for headers and for body chunks, not a
 * request body that a stalled registry stops reading.
 */
export class ProgressWatchdog {
  private readonly inFlight = new Set<InFlight>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  watch(entry: InFlight): () => void {
    this.inFlight.add(entry);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.check(), Math.min(1000, Math.max(50, this.timeoutMs / 4)));
      this.timer.unref();
    }
    return () => {
      this.inFlight.delete(entry);
      if (this.inFlight.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private check(): void {
    const now = performance.now();
    for (const entry of this.inFlight) {
      if (now - entry.lastProgress > this.timeoutMs) entry.abort(new ExchangeError(`no progress within ${this.timeoutMs} ms`, true));
    }
  }
}

/** Wraps a body so that every chunk taken by the socket counts as progress and as bytes sent. */
async function* counted(chunks: BodyChunks, onChunk: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    onChunk(chunk.byteLength);
    yield chunk;
  }
}

/**
 * One HTTP exchange through undici's dispatcher with a handler of its own: the response body is
 * never buffered nor copied unless asked for, only its chunks counted, and the time to the first
 * byte of the answer is taken when the status line and headers arrive.
 */
export function exchange(dispatcher: Dispatcher, watchdog: ProgressWatchdog, request: ExchangeRequest): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ttfbMs = 0;
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let bytesReceived = 0;
    let bytesSent = 0;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let controller: Dispatcher.DispatchController | undefined;
    let pendingAbort: Error | undefined;
    const entry: InFlight = {
      lastProgress: started,
      abort(err) {
        if (controller) controller.abort(err);
        else pendingAbort = err;
      },
    };
    const unwatch = watchdog.watch(entry);
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      unwatch();
      if (err instanceof ExchangeError) {
        reject(err);
        return;
      }
      const coded = err as Error & { code?: string };
      reject(new ExchangeError(describeTransportError(coded), TIMEOUT_CODES.has(coded.code ?? '')));
    };
    const body =
      request.body === undefined
        ? null
        : counted(request.body(), (bytes) => {
            bytesSent += bytes;
            entry.lastProgress = performance.now();
          });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctrl) {
        controller = ctrl;
        if (pendingAbort) ctrl.abort(pendingAbort);
      },
      onResponseStart(_ctrl, statusCode, responseHeaders) {
        const now = performance.now();
        entry.lastProgress = now;
        ttfbMs = now - started;
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(_ctrl, chunk) {
        entry.lastProgress = performance.now();
        bytesReceived += chunk.length;
        if (request.keepBody !== undefined && keptBytes < request.keepBody) {
          kept.push(chunk);
          keptBytes += chunk.length;
        }
      },
      onResponseEnd() {
        if (settled) return;
        settled = true;
        unwatch();
        const kept_ = request.keepBody === undefined ? undefined : Buffer.concat(kept).subarray(0, request.keepBody);
        resolve({ status, headers, bytesReceived, bytesSent, body: kept_, ttfbMs, totalMs: performance.now() - started });
      },
      onResponseError(_ctrl, err) {
        fail(err);
      },
    };
    try {
      dispatcher.dispatch(
        {
          origin: request.url.origin,
          path: `${request.url.pathname}${request.url.search}`,
          method: request.method,
          headers: request.headers,
          // undici takes async iterables as bodies; its option type does not say so.
          body: body as unknown as Dispatcher.DispatchOptions['body'],
        },
        handler,
      );
    } catch (err) {
      fail(err as Error);
    }
  });
}
