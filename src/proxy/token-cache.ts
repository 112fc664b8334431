/** Seconds a token is assumed to live when the token endpoint does not say (the token spec's default). */
const DEFAULT_TOKEN_SECONDS = 60;
/** A token is renewed this long before it expires, so a request never leaves with a dying one. */
const RENEW_MARGIN_MS = 10_000;

export interface IssuedToken {
  token: string;
  /** Lifetime the token endpoint gave (`expires_in`), if any. */
  expiresInSeconds?: number;
}

/**
 * Bearer tokens of one upstream, by scope (`repository:library/nginx:pull`), kept until shortly
 * before they expire. Concurrent requests that need the same scope share one token request.
 */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly now: () => number = Date.now) {}

  cached(scope: string): string | undefined {
    const entry = this.tokens.get(scope);
    if (!entry) return undefined;
    if (entry.renewAt <= this.now()) {
      this.tokens.delete(scope);
      return undefined;
    }
    return entry.token;
  }

  /** A fresh token for `scope`, from `issue` unless another request is already fetching one. */
  obtain(scope: string, issue: () => Promise<IssuedToken>): Promise<string> {
    const running = this.pending.get(scope);
    if (running) return running;
    const request = issue()
      .then((issued) => {
        const seconds = issued.expiresInSeconds !== undefined && issued.expiresInSeconds > 0 ? issued.expiresInSeconds : DEFAULT_TOKEN_SECONDS;
        // A token shorter-lived than twice the margin is renewed at half its life instead.
        const lifetimeMs = seconds * 1000;
        this.tokens.set(scope, { token: issued.token, renewAt: this.now() + Math.max(lifetimeMs - RENEW_MARGIN_MS, lifetimeMs / 2) });
        return issued.token;
      })
      .finally(() => this.pending.delete(scope));
    this.pending.set(scope, request);
    return request;
  }

  forget(scope: string): void {
    this.tokens.delete(scope);
  }
}
