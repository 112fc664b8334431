import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { parseAuthChallenge, type AuthChallenge } from '../../proxy/auth-challenge.js';
import { TokenCache, type IssuedToken } from '../../proxy/token-cache.js';
import { issuedTokenOf, tokenRequestUrl } from '../../proxy/token-request.js';
import { compactHeapIfGrown } from './compact-heap.js';
import type { TlsMaterial } from './tls-files.js';

/** Why a request to the registry gave no usable answer; the collection then fails with it. */
export type RegistryFailure = 'unreachable' | 'timeout' | 'unauthorized' | 'status' | 'invalid';

export class RegistryRequestError extends Error {
  constructor(
    message: string,
    readonly reason: RegistryFailure,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryRequestError';
  }
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Empty for HEAD. */
  body: Buffer;
  /** The URL that answered, for resolving a relative Link header. */
  url: URL;
}

export interface RequestInit {
  method?: 'GET' | 'HEAD';
  accept?: string;
  /** Token scope the request needs under bearer auth (`registry:catalog:*`, `repository:NAME:pull`). */
  scope: string;
  signal: AbortSignal;
  /** User-Agent override (the synthetic probe says it is one, so access logs can tell it apart). */
  userAgent?: string;
}

export interface ClientSettings {
  baseUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  tls: TlsMaterial;
  /** Upper bound of one request (the collection's timeout). */
  timeoutMs: number;
  userAgent: string;
}

/** Bodies larger than this are refused: a page of a catalog or a manifest is far smaller. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Connections kept to the registry; requests beyond wait for one. */
const CONNECTIONS = 16;

/**
 * The registry's HTTP API as the exporter speaks it: anonymous until challenged, then HTTP Basic
 * or the bearer-token dance (credentials sent to the challenge's realm, tokens kept per scope until
 * they expire), over one pooled keep-alive agent with the configured CA and client certificate.
 */
export class RegistryClient {
  readonly base: URL;
  private readonly dispatcher: Agent;
  private readonly tokens = new TokenCache();
  /** How the registry asked to be authenticated, once it has challenged. */
  private scheme: 'none' | 'basic' | 'bearer' = 'none';
  /** Requests sent, by outcome; read by the exporter's own metrics. */
  readonly counts = { requests: 0, manifestGets: 0, tokenRequests: 0 };

  constructor(private readonly settings: ClientSettings) {
    this.base = new URL(`${settings.baseUrl}/`);
    const { ca, cert, key, rejectUnauthorized } = settings.tls;
    const connect: Record<string, unknown> = { rejectUnauthorized, timeout: Math.min(settings.timeoutMs, 10_000) };
    if (ca) connect.ca = ca;
    if (cert) connect.cert = cert;
    if (key) connect.key = key;
    this.dispatcher = new Agent({ connect, connections: CONNECTIONS, headersTimeout: settings.timeoutMs, bodyTimeout: settings.timeoutMs, keepAliveTimeout: 30_000 });
  }

  /** The base URL joined with a path relative to it (`v2/`, `api/v1/summary`). */
  url(path: string): URL {
    return new URL(path.replace(/^\/+/, ''), this.base);
  }

  /** One request, answering an auth challenge once. A 401 that persists is returned to the caller. */
  async request(target: string | URL, init: RequestInit): Promise<RegistryResponse> {
    const url = typeof target === 'string' ? this.url(target) : target;
    const first = await this.send(url, init, this.authorization(init.scope));
    if (first.status !== 401) return first;
    const challenge = parseAuthChallenge(first.headers['www-authenticate']);
    const authorization = await this.answer(challenge, init);
    if (authorization === undefined) return first;
    const retried = await this.send(url, init, authorization);
    if (retried.status === 401 && this.scheme === 'bearer') this.tokens.forget(challenge?.params.scope ?? init.scope);
    return retried;
  }

  private basic(): string | undefined {
    if (this.settings.username === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.settings.username}:${this.settings.password ?? ''}`).toString('base64')}`;
  }

  /** What to send before any challenge: the scheme the registry asked for last time. */
  private authorization(scope: string): string | undefined {
    if (this.scheme === 'basic') return this.basic();
    if (this.scheme === 'bearer') {
      const token = this.tokens.cached(scope);
      return token === undefined ? undefined : `Bearer ${token}`;
    }
    return undefined;
  }

  private async answer(challenge: AuthChallenge | undefined, init: RequestInit): Promise<string | undefined> {
    if (challenge?.scheme === 'bearer' && challenge.params.realm !== undefined) {
      this.scheme = 'bearer';
      const scope = challenge.params.scope ?? init.scope;
      const token = await this.tokens.obtain(scope, () => this.issueToken(challenge, scope, init.signal));
      return `Bearer ${token}`;
    }
    const basic = this.basic();
    if (basic === undefined) return undefined;
    this.scheme = 'basic';
    return basic;
  }

  /** The token dance: GET realm?service=...&scope=..., with the Basic credentials when there are some. */
  private async issueToken(challenge: AuthChallenge, scope: string, signal: AbortSignal): Promise<IssuedToken> {
    const url = tokenRequestUrl(challenge, scope);
    if (!url) throw new RegistryRequestError(`the registry's bearer challenge names an unusable realm "${(challenge.params.realm ?? '').slice(0, 200)}"`, 'unauthorized');
    if (this.base.protocol === 'https:' && url.protocol !== 'https:' && this.settings.username !== undefined) {
      throw new RegistryRequestError(`the registry's token realm ${url.origin} is not https; the exporter does not send credentials there in clear text`, 'unauthorized');
    }
    this.counts.tokenRequests += 1;
    const response = await this.send(url, { scope, signal }, this.basic());
    const where = `token endpoint ${url.origin}${url.pathname}`;
    if (response.status === 401 || response.status === 403) {
      throw new RegistryRequestError(`${where} refused ${this.settings.username === undefined ? 'an anonymous token request (give --username and --password)' : "the exporter's credentials"} (${response.status})`, 'unauthorized', response.status);
    }
    if (response.status !== 200) throw new RegistryRequestError(`${where} answered ${response.status}`, 'status', response.status);
    const issued = issuedTokenOf(parseJson(response, where));
    if (!issued) throw new RegistryRequestError(`${where} answered without a token`, 'invalid');
    return issued;
  }

  private async send(url: URL, init: RequestInit, authorization: string | undefined): Promise<RegistryResponse> {
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = { 'user-agent': init.userAgent ?? this.settings.userAgent };
    if (init.accept) headers.accept = init.accept;
    if (authorization) headers.authorization = authorization;
    this.counts.requests += 1;
    compactHeapIfGrown();
    let response: Dispatcher.ResponseData;
    try {
      // Redirects are not followed (undici's default): a blob's redirect to storage is an answer of its own.
      response = await request(url, { method, headers, dispatcher: this.dispatcher, signal: init.signal });
    } catch (err) {
      throw transportError(err, url, init.signal);
    }
    let body = Buffer.alloc(0);
    try {
      if (method === 'HEAD') {
        await response.body.dump();
      } else {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of response.body) {
          size += (chunk as Buffer).length;
          if (size > MAX_BODY_BYTES) {
            response.body.destroy();
            throw new RegistryRequestError(`${url.origin}${url.pathname} answered more than ${MAX_BODY_BYTES} bytes`, 'invalid');
          }
          chunks.push(chunk as Buffer);
        }
        body = Buffer.concat(chunks);
      }
    } catch (err) {
      if (err instanceof RegistryRequestError) throw err;
      throw transportError(err, url, init.signal);
    }
    return { status: response.statusCode, headers: response.headers, body, url };
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

function transportError(err: unknown, url: URL, signal: AbortSignal): RegistryRequestError {
  const error = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  const timedOut = signal.aborted || error.name === 'TimeoutError' || error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT' || error.code === 'UND_ERR_CONNECT_TIMEOUT';
  const code = error.cause?.code ?? error.code;
  const detail = timedOut && signal.aborted ? 'the collection timed out' : `${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}`;
  return new RegistryRequestError(`cannot reach ${url.origin}: ${detail}`, timedOut ? 'timeout' : 'unreachable');
}

/** The body as JSON, or a RegistryRequestError('invalid') saying what answered instead. */
export function parseJson(response: RegistryResponse, where: string): unknown {
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    const type = response.headers['content-type'] ?? 'no content type';
    throw new RegistryRequestError(`${where} did not answer JSON (${String(type).slice(0, 80)}, ${response.body.length} bytes)`, 'invalid');
  }
}

/** A refusal or an unexpected status as the error of a collection. */
export function statusError(response: RegistryResponse, where: string, sentCredentials: boolean): RegistryRequestError {
  if (response.status === 401) {
    return new RegistryRequestError(`${where} asks for credentials (401)${sentCredentials ? " and refused the exporter's" : '; give --username and --password'}`, 'unauthorized', 401);
  }
  if (response.status === 403) return new RegistryRequestError(`${where} does not let the exporter's user read it (403)`, 'unauthorized', 403);
  return new RegistryRequestError(`${where} answered ${response.status}`, 'status', response.status);
}

/** The `rel="next"` target of a Link header (catalog and tag-list pagination), resolved against the answering URL. */
export function nextLink(response: RegistryResponse): URL | undefined {
  const header = response.headers.link;
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const value of values) {
    for (const part of value.split(/,(?=\s*<)/)) {
      const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
      if (match && /(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(match[2] as string)) {
        try {
          return new URL(match[1] as string, response.url);
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}
