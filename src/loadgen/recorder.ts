import type { ExchangeResult } from './http-exchange.js';

/** The requests of a pull whose time to first byte is reported, as zb reports them. */
export const TTFB_KINDS = ['manifestHead', 'manifestGet', 'config', 'layer'] as const;
export type TtfbKind = (typeof TTFB_KINDS)[number];

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

  failed(reason: string, timeout: boolean): void {
    if (timeout) this.timeouts += 1;
    else this.failures += 1;
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
  }
}
