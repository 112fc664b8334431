import type { SharedValues } from '../coordination/shared-values.js';
/** Seconds a token is assumed to live when the token endpoint does not say (the token spec's default). */
const DEFAULT_TOKEN_SECONDS = 60;
/** A token is renewed this long before it expires, so a request never leaves with a dying one. */
const RENEW_MARGIN_MS = 10_000;

export interface IssuedToken {
  token: string;
  /** Lifetime the token endpoint gave (`expires_in`), if any. */
  expiresInSeconds?: number;
}

/** Where replicas share the tokens of one registry: the values, and a key naming the registry and the credentials. */
export interface SharedTokens {
  values: SharedValues;
  key: string;
}

/**
 * Bearer tokens of one upstream, by scope (`repository:library/nginx:pull`), kept until shortly
 * before they expire. Concurrent requests that need the same scope share one token request; with
 * `shared`, so do the replicas of a store (a token one of them obtained serves them all).
 */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();
  /** Tokens the registry refused, by scope: a copy another replica shared is not taken again. */
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly shared?: SharedTokens,
  ) {}

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
    const request = this.sharedOrIssued(scope, issue).finally(() => this.pending.delete(scope));
    this.pending.set(scope, request);
    return request;
  }

  /** A token another replica obtained, or a new one (then shared). */
  private async sharedOrIssued(scope: string, issue: () => Promise<IssuedToken>): Promise<string> {
    const sharedKey = this.shared && `token:${this.shared.key}:${scope}`;
    const found = sharedKey === undefined ? undefined : await this.shared?.values.get(sharedKey);
    if (found !== undefined) {
      const entry = JSON.parse(found) as { token: string; renewAt: number };
      if (entry.renewAt > this.now() && this.refused.get(scope) !== entry.token) {
        this.tokens.set(scope, entry);
        return entry.token;
      }
    }
    const issued = await issue();
    this.refused.delete(scope);
    const seconds = issued.expiresInSeconds !== undefined && issued.expiresInSeconds > 0 ? issued.expiresInSeconds : DEFAULT_TOKEN_SECONDS;
    // A token shorter-lived than twice the margin is renewed at half its life instead.
    const lifetimeMs = seconds * 1000;
    const entry = { token: issued.token, renewAt: this.now() + Math.max(lifetimeMs - RENEW_MARGIN_MS, lifetimeMs / 2) };
    this.tokens.set(scope, entry);
    if (sharedKey !== undefined) await this.shared?.values.set(sharedKey, JSON.stringify(entry), entry.renewAt - this.now());
    return issued.token;
  }

  forget(scope: string): void {
    const forgotten = this.tokens.get(scope);
    if (forgotten && this.shared) this.refused.set(scope, forgotten.token);
    this.tokens.delete(scope);
  }
}
