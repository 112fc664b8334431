/**
 * The states of an upstream's circuit, as the `to` label of
 * porthole_proxy_upstream_circuit_transitions_total.
 */
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** Leave to send one request upstream; it must be reported, once, with `succeeded` or `failed`. */
export interface CircuitTicket {
  readonly probe: boolean;
}

export interface CircuitChange {
  from: CircuitState;
  to: CircuitState;
  /** Why it opened: the failure of the request that opened it. */
  reason?: string;
  /** When it opens: how long until the next probe. */
  retryInMs?: number;
}

export interface CircuitSettings {
  /** How long the circuit stays open after the first failure. */
  openMs: number;
  /** The cap on that interval, which doubles after each failed probe. */
  maxOpenMs: number;
}

/**
 * Whether requests may go to one upstream now (a circuit breaker). Closed: all may. A request
 * that finds the upstream unreachable (a timeout, a refused connection, a 5xx) opens it: for
 * `openMs` no request goes, so that nobody waits for an upstream that is known to be down (the
 * cache answers what it can at once). Then it is half-open: one request at a time goes through
 * as a probe; its success closes the circuit, its failure opens it again for twice as long, up
 * to `maxOpenMs`. Any answer from the upstream closes it, whichever request got it.
 */
export class UpstreamCircuit {
  private current: CircuitState = 'closed';
  private openMs: number;
  private openUntil = 0;
  private probe: CircuitTicket | undefined;

  constructor(
    private readonly settings: CircuitSettings,
    private readonly onChange: (change: CircuitChange) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.openMs = settings.openMs;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Milliseconds until the next probe may go; 0 when the circuit is closed or a probe may go now. */
  retryInMs(): number {
    return this.current === 'closed' ? 0 : Math.max(0, this.openUntil - this.now());
  }

  /** A ticket to send a request now, or undefined when the upstream must be left alone. */
  admit(): CircuitTicket | undefined {
    if (this.current === 'closed') return { probe: false };
    if (this.current === 'open') {
      if (this.now() < this.openUntil) return undefined;
      this.change('half_open');
    }
    if (this.probe !== undefined) return undefined;
    this.probe = { probe: true };
    return this.probe;
  }

  /** The upstream answered (whatever it said): it is reachable. */
  succeeded(ticket: CircuitTicket): void {
    if (ticket === this.probe) this.probe = undefined;
    if (this.current === 'closed') return;
    this.openMs = this.settings.openMs;
    this.change('closed');
  }

  /**
   * The upstream could not be reached. Only a failure seen while closed, or the probe's, counts:
   * requests sent before the circuit opened say nothing new when they fail after it.
   */
  failed(ticket: CircuitTicket, reason: string): void {
    if (this.current === 'closed') return this.open(reason);
    if (ticket !== this.probe) return;
    this.probe = undefined;
    this.openMs = Math.min(this.openMs * 2, this.settings.maxOpenMs);
    this.open(reason);
  }

  private open(reason: string): void {
    this.openUntil = this.now() + this.openMs;
    this.change('open', reason);
  }

  private change(to: CircuitState, reason?: string): void {
    const from = this.current;
    this.current = to;
    this.onChange(to === 'open' ? { from, to, ...(reason === undefined ? {} : { reason }), retryInMs: this.openMs } : { from, to });
  }
}
