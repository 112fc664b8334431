/**
 * How an upstream request ended, as the `outcome` label of porthole_proxy_upstream_requests_total:
 * a bounded set, so that it can be a label.
 */
export const UPSTREAM_OUTCOMES = ['ok', 'not_found', 'denied', 'throttled', 'server_error', 'timeout', 'unreachable', 'broken'] as const;
export type UpstreamOutcome = (typeof UPSTREAM_OUTCOMES)[number];

/**
 * An upstream request that did not give what was asked for; `outcome` says why. `elsewhere` names
 * the origin that failed when it was not the upstream's own (a CDN it redirected to, its token
 * realm): the upstream itself answered, so it is not unavailable.
 */
export class UpstreamFailure extends Error {
  constructor(
    message: string,
    readonly outcome: Exclude<UpstreamOutcome, 'ok'>,
    readonly elsewhere?: string,
  ) {
    super(message);
    this.name = 'UpstreamFailure';
  }
}

/**
 * A request that was never sent: the upstream is known to be unreachable (its circuit is open),
 * so the cache answers what it can without waiting for it.
 */
export class UpstreamUnavailable extends UpstreamFailure {
  constructor(message: string) {
    super(message, 'unreachable');
    this.name = 'UpstreamUnavailable';
  }
}

export function isUpstreamFailure(err: unknown): err is UpstreamFailure {
  return err instanceof UpstreamFailure;
}

/** Outcomes that mean the upstream could not be used at all (as opposed to a clear answer). */
export function meansUnreachable(outcome: UpstreamOutcome): boolean {
  return outcome === 'timeout' || outcome === 'unreachable' || outcome === 'server_error';
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** A network-level error (refused, reset, timed out) as an UpstreamFailure; `elsewhere` as for UpstreamFailure. */
export function networkFailure(err: unknown, what: string, elsewhere?: string): UpstreamFailure {
  if (isUpstreamFailure(err)) return err;
  const code = (err as { code?: string }).code ?? '';
  const timedOut = TIMEOUT_CODES.has(code) || (err as Error).name === 'TimeoutError';
  if (timedOut) return new UpstreamFailure(`${what}: no answer in time (${code || (err as Error).message})`, 'timeout', elsewhere);
  return new UpstreamFailure(`${what}: ${reasonOf(err, code)}`, 'unreachable', elsewhere);
}

/** An error's message with its code, once: "connect ECONNREFUSED 127.0.0.1:1", "other side closed (UND_ERR_SOCKET)". */
function reasonOf(err: unknown, code: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (code === '' || message.includes(code)) return message || code;
  return message === '' ? code : `${message} (${code})`;
}

/** The outcome of an HTTP status that is not a success. */
export function statusOutcome(status: number): Exclude<UpstreamOutcome, 'ok' | 'timeout' | 'unreachable' | 'broken'> {
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'denied';
  if (status === 429) return 'throttled';
  return 'server_error';
}
