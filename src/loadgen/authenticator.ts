import { parseAuthChallenge, type AuthChallenge } from '../proxy/auth-challenge.js';
import { TokenCache, type IssuedToken } from '../proxy/token-cache.js';
import { issuedTokenOf, tokenRequestUrl } from '../proxy/token-request.js';
import type { ExchangeResult } from './http-exchange.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The credentials were refused, or none were given where they are needed: the run stops before any test. */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/** The scheme a registry asked for and its bearer realm: plain data, for a worker thread. */
export interface NegotiatedAuth {
  scheme: 'none' | 'basic' | 'bearer';
  realm?: AuthChallenge;
}

/** Fetches a URL with an optional Authorization header, keeping the (small) body. */
export type TokenFetch = (url: URL, authorization: string | undefined) => Promise<ExchangeResult>;

/**
 * How porthole-bench authenticates: anonymous until the registry challenges, then HTTP Basic on
 * every request, or the bearer-token dance (the credentials sent to the challenge's realm, one
 * token per scope kept until shortly before it expires, concurrent requests sharing one fetch).
 */
export class Authenticator {
  scheme: 'none' | 'basic' | 'bearer' = 'none';
  private readonly tokens = new TokenCache();
  /** Token requests made, for the report. */
  tokenRequests = 0;
  /** The last bearer challenge: its realm and service, for tokens fetched before a request. */
  private realm: AuthChallenge | undefined;

  constructor(
    private readonly credentials: Credentials | undefined,
    private readonly secureRegistry: boolean,
    private readonly fetchToken: TokenFetch,
  ) {}

  /** What was negotiated with the registry (the scheme, the bearer realm), for another thread's Authenticator; never a token. */
  negotiated(): NegotiatedAuth {
    return { scheme: this.scheme, ...(this.realm === undefined ? {} : { realm: this.realm }) };
  }

  /** Starts from another Authenticator's negotiation: no challenge to meet again, tokens fetched afresh. */
  adopt(state: NegotiatedAuth): void {
    this.scheme = state.scheme;
    this.realm = state.realm;
  }

  get hasCredentials(): boolean {
    return this.credentials !== undefined;
  }

  basic(): string | undefined {
    if (!this.credentials) return undefined;
    return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
  }

  /**
   * The Authorization header to send before any challenge: the scheme the registry asked for.
   * Under bearer auth a token for a new scope is fetched first from the realm the registry named
   * (as docker and containerd do), so that requests do not each meet a 401 on a new repository.
   */
  async header(scope: string): Promise<string | undefined> {
    if (this.scheme === 'basic') return this.basic();
    if (this.scheme !== 'bearer') return undefined;
    const cached = this.tokens.cached(scope);
    if (cached !== undefined) return `Bearer ${cached}`;
    const realm = this.realm;
    if (realm === undefined || scope === '') return undefined;
    return `Bearer ${await this.tokens.obtain(scope, () => this.issue(realm, scope))}`;
  }

  /** After a 401: the header to retry with, or undefined when there is nothing better to send. */
  async answer(wwwAuthenticate: string | string[] | undefined, scope: string): Promise<string | undefined> {
    const challenge = parseAuthChallenge(wwwAuthenticate);
    if (challenge?.scheme === 'bearer' && challenge.params.realm !== undefined) {
      this.scheme = 'bearer';
      this.realm = challenge;
      this.tokens.forget(scope);
      const token = await this.tokens.obtain(scope, () => this.issue(challenge, challenge.params.scope ?? scope));
      return `Bearer ${token}`;
    }
    const basic = this.basic();
    if (basic === undefined) return undefined;
    this.scheme = 'basic';
    return basic;
  }

  /** The token dance: GET realm?service=...&scope=..., with the Basic credentials when there are some. */
  private async issue(challenge: AuthChallenge, scope: string): Promise<IssuedToken> {
    const url = tokenRequestUrl(challenge, scope);
    if (!url) throw new CredentialsError(`the registry's bearer challenge names an unusable realm "${(challenge.params.realm ?? '').slice(0, 200)}"`);
    if (this.secureRegistry && url.protocol !== 'https:' && this.credentials) {
      throw new CredentialsError(`the registry's token realm ${url.origin} is not https; porthole-bench does not send credentials there in clear text`);
    }
    this.tokenRequests += 1;
    const response = await this.fetchToken(url, this.basic());
    const where = `the token realm ${url.origin}${url.pathname}`;
    if (response.status === 401 || response.status === 403) {
      throw new CredentialsError(
        this.credentials ? `${where} refused the credentials of user "${this.credentials.username}" (${response.status})` : `${where} refused an anonymous token (${response.status}); give -A user:password`,
      );
    }
    if (response.status !== 200) throw new CredentialsError(`${where} answered ${response.status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse((response.body ?? Buffer.alloc(0)).toString('utf8'));
    } catch {
      throw new CredentialsError(`${where} did not answer JSON`);
    }
    const issued = issuedTokenOf(parsed);
    if (!issued) throw new CredentialsError(`${where} answered without a token`);
    return issued;
  }
}
