import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { CollectorTransport } from './transport-env.js';

const gzipped = promisify(gzip);

export type SendOutcome = { ok: true } | { ok: false; reason: string };

/** Answers OTLP says to send again later (the collector is overloaded or restarting). */
const RETRYABLE = new Set([429, 502, 503, 504]);
const FIRST_BACKOFF_MS = 200;
/** An error answer's body is read for its message, up to this much. */
const MESSAGE_BYTES = 512;

interface Attempt {
  status?: number;
  retryAfterMs?: number;
  timedOut?: boolean;
  /** For the log: `connect ECONNREFUSED 127.0.0.1:4318`, `404 Not Found: ...`, `timed out after 10000 ms`. */
  reason: string;
}

function retryAfterMs(response: IncomingMessage): number | undefined {
  const value = response.headers['retry-after'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * POSTs OTLP/protobuf export requests to a collector's traces endpoint (OTLP/HTTP: 2xx is
 * success; 429, 502, 503 and 504, and a failed connection, are tried again with a growing pause
 * or the collector's Retry-After; anything else is final), each export bounded by `timeoutMs`
 * in all, retries included. Connections are kept alive between exports.
 */
export class OtlpHttpSender {
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly inFlight = new Set<{ destroy(error?: Error): void }>();
  /** Aborted by abort(): ends the pause before a retry too. */
  private readonly stopped = new AbortController();

  private readonly headers: Record<string, string>;

  constructor(
    private readonly endpoint: URL,
    headers: Readonly<Record<string, string>>,
    private readonly timeoutMs: number,
    userAgent: string,
    private readonly transport: CollectorTransport = { tls: {}, gzip: false },
  ) {
    const secure = endpoint.protocol === 'https:';
    this.agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 2, ...transport.tls }) : new HttpAgent({ keepAlive: true, maxSockets: 2 });
    this.send = secure ? httpsRequest : httpRequest;
    this.headers = { ...headers, 'content-type': 'application/x-protobuf', 'user-agent': userAgent, ...(transport.gzip ? { 'content-encoding': 'gzip' } : {}) };
  }

  async export(message: Buffer): Promise<SendOutcome> {
    const deadline = Date.now() + this.timeoutMs;
    const body = this.transport.gzip ? await gzipped(message) : message;
    for (let retry = 0; ; retry += 1) {
      const attempt = await this.post(body, deadline - Date.now());
      if (attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300) return { ok: true };
      const retryable = attempt.status === undefined ? !attempt.timedOut : RETRYABLE.has(attempt.status);
      const pause = attempt.retryAfterMs ?? FIRST_BACKOFF_MS * 2 ** retry * (0.5 + Math.random());
      if (!retryable || Date.now() + pause >= deadline || this.stopped.signal.aborted) return { ok: false, reason: attempt.reason };
      try {
        await sleep(pause, undefined, { signal: this.stopped.signal });
      } catch {
        return { ok: false, reason: attempt.reason };
      }
    }
  }

  /** Cuts exports in flight (shutdown gave up on them) and the kept-alive connections. */
  abort(): void {
    this.stopped.abort();
    for (const request of this.inFlight) request.destroy(new Error('tracing shut down'));
    this.agent.destroy();
  }

  private post(body: Buffer, timeoutMs: number): Promise<Attempt> {
    return new Promise((resolve) => {
      const timedOut: Attempt = { timedOut: true, reason: `timed out after ${this.timeoutMs} ms` };
      if (timeoutMs <= 0) return resolve(timedOut);
      const request = this.send(this.endpoint, {
        method: 'POST',
        agent: this.agent,
        headers: { ...this.headers, 'content-length': body.length },
      });
      this.inFlight.add(request);
      let settled = false;
      const finish = (attempt: Attempt): void => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(request);
        resolve(attempt);
      };
      const timer = setTimeout(() => {
        request.destroy();
        finish(timedOut);
      }, timeoutMs);
      timer.unref();
      request.on('error', (err) => {
        clearTimeout(timer);
        finish({ reason: err.message });
      });
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        let message = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (message.length < MESSAGE_BYTES) message += chunk;
        });
        response.on('end', () => {
          clearTimeout(timer);
          const retryAfter = retryAfterMs(response);
          const said = message.slice(0, MESSAGE_BYTES).trim();
          const reason = `${status} ${response.statusMessage ?? ''}`.trim() + (said && status >= 300 ? `: ${said}` : '');
          finish({ status, reason, ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }) });
        });
        response.on('error', (err) => {
          clearTimeout(timer);
          finish({ reason: err.message });
        });
      });
      request.end(body);
    });
  }
}
