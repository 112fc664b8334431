import type { ExchangeResult } from './http-exchange.js';

/** The requests of a pull whose time to first byte is reported, as zb reports them. */
export const TTFB_KINDS = ['manifestHead', 'manifestGet', 'config', 'layer'] as const;
export type TtfbKind = (typeof TTFB_KINDS)[number];

/** A Recorder's figures as plain data (arrays and numbers), to cross from a worker thread by postMessage. */
export interface RecorderFigures {
  statusCodes: Array<[number, number]>;
  httpRequests: number;
  bytesSent: number;
  bytesReceived: number;
  latenciesMs: number[];
  failures: number;
  timeouts: number;
  errors: Array<[string, number]>;
  ttfbMs: Record<TtfbKind, number[]>;
}

/**
 * What one test's measured operations did: every HTTP answer by status code, the bytes moved each
 * way, each operation's latency (successful ones) or failure, and the time to first byte of pull
 * requests. Setup and cleanup record into a recorder of their own that is thrown away.
 */
export class Recorder {
  readonly statusCodes = new Map<number, number>();
  httpRequests = 0;
  bytesSent = 0;
  bytesReceived = 0;
  readonly latenciesMs: number[] = [];
  failures = 0;
  timeouts = 0;
  /** Failures by what went wrong (`PUT blob upload answered 500`, `ECONNREFUSED`). */
  readonly errors = new Map<string, number>();
  readonly ttfbMs: Record<TtfbKind, number[]> = { manifestHead: [], manifestGet: [], config: [], layer: [] };

  answered(result: ExchangeResult): void {
    this.httpRequests += 1;
    this.statusCodes.set(result.status, (this.statusCodes.get(result.status) ?? 0) + 1);
    this.bytesSent += result.bytesSent;
    this.bytesReceived += result.bytesReceived;
  }

  /** A request that got no answer still counts as a request. */
  unanswered(): void {
    this.httpRequests += 1;
  }

  ttfb(kind: TtfbKind, ms: number): void {
    this.ttfbMs[kind].push(ms);
  }

  succeeded(latencyMs: number): void {
    this.latenciesMs.push(latencyMs);
  }

  failed(reason: string, timeout: boolean, count = 1): void {
    if (timeout) this.timeouts += count;
    else this.failures += count;
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + count);
  }

  /** Operations that ended, successful or not. */
  get operations(): number {
    return this.latenciesMs.length + this.failures + this.timeouts;
  }

  figures(): RecorderFigures {
    return {
      statusCodes: [...this.statusCodes],
      httpRequests: this.httpRequests,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      latenciesMs: this.latenciesMs,
      failures: this.failures,
      timeouts: this.timeouts,
      errors: [...this.errors],
      ttfbMs: this.ttfbMs,
    };
  }

  /** Adds another recorder's figures (a worker thread's) to these. */
  merge(figures: RecorderFigures): void {
    for (const [code, count] of figures.statusCodes) this.statusCodes.set(code, (this.statusCodes.get(code) ?? 0) + count);
    this.httpRequests += figures.httpRequests;
    this.bytesSent += figures.bytesSent;
    this.bytesReceived += figures.bytesReceived;
    for (const value of figures.latenciesMs) this.latenciesMs.push(value);
    this.failures += figures.failures;
    this.timeouts += figures.timeouts;
    for (const [reason, count] of figures.errors) this.errors.set(reason, (this.errors.get(reason) ?? 0) + count);
    for (const kind of TTFB_KINDS) for (const value of figures.ttfbMs[kind]) this.ttfbMs[kind].push(value);
  }
}
