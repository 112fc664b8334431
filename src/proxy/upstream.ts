import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { ConfigError } from '../config/load.js';
import { durationMs } from '../config/durations.js';
import type { UpstreamConfig } from '../config/proxy-schema.js';
import { MAX_MANIFEST_BYTES } from '../core/manifest.js';
import { bareMediaType, MEDIA_TYPES } from '../core/media-types.js';
import type { PortholeLogger } from '../observability/logger.js';
import { parseAuthChallenge, type AuthChallenge } from './auth-challenge.js';
import { TokenCache, type IssuedToken } from './token-cache.js';
import { isUpstreamFailure, meansUnreachable, networkFailure, statusOutcome, UpstreamFailure, type UpstreamOutcome } from './upstream-failure.js';

const MAX_REDIRECTS = 5;
const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

/** Where an upstream's requests are reported (metrics); one call per request, when it is settled. */
export interface UpstreamObserver {
  requested(namespace: string, outcome: UpstreamOutcome, seconds: number): void;
  received(namespace: string, type: 'manifest' | 'blob', bytes: number): void;
  reachable(namespace: string, up: boolean): void;
}

export interface UpstreamManifest {
  mediaType: string | undefined;
  bytes: Buffer;
  /** Docker-Content-Digest, when the upstream sent it. */
  digest: string | undefined;
}

export interface UpstreamBlob {
  /** Content-Length; undefined when the upstream did not say. */
  size: number | undefined;
  body: Readable;
  /** Reports the request, once: with no argument when the body arrived whole and right, else with why not. */
  finished(err?: unknown): void;
}

/**
 * One upstream registry: its connection pool, timeouts, credentials and tokens, and whether it
 * was reachable last time (a change is logged once, not per request). Every request is
 * anonymous until the upstream challenges; then basic credentials or a bearer token from the
 * challenge's realm are sent, and the token is reused until it expires.
 */
export class Upstream {
  readonly name: string;
  readonly url: string;
  private readonly base: URL;
  /** Connections to the upstream itself, with its TLS settings. */
  private readonly dispatcher: Agent;
  /** Connections anywhere else (blob CDNs, token realms): the system's trust, no client certificate. */
  private readonly elsewhere: Agent;
  private readonly timeoutMs: number;
  private readonly basic: string | undefined;
  private readonly tokens = new TokenCache();
  /** Which scheme the upstream asked for last, so later requests can answer before being asked. */
  private scheme: AuthChallenge['scheme'] | undefined;
  private up: boolean | undefined;

  constructor(
    config: UpstreamConfig,
    configKey: string,
    private readonly observer: UpstreamObserver,
    private readonly log: PortholeLogger,
  ) {
    this.name = config.name;
    this.url = config.url.replace(/\/$/, '');
    this.base = new URL(this.url);
    this.timeoutMs = durationMs(config.timeout);
    this.basic = basicCredentials(config, configKey);
    const timeouts = { connectTimeout: this.timeoutMs, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs };
    this.dispatcher = new Agent({ connect: tlsOptions(config, configKey), ...timeouts });
    this.elsewhere = new Agent(timeouts);
  }

  /** A manifest by tag or digest, its bytes read whole (they are small, and bounded). */
  async getManifest(repo: string, reference: string): Promise<UpstreamManifest> {
    const what = `${this.name} manifest ${repo}:${reference}`;
    return this.measured(what, async () => {
      const response = await this.send('GET', `/v2/${repo}/manifests/${reference}`, repo, { accept: MANIFEST_ACCEPT });
      await expectSuccess(response, what);
      const bytes = await readBounded(response.body, MAX_MANIFEST_BYTES, what);
      this.observer.received(this.name, 'manifest', bytes.length);
      return { mediaType: bareMediaType(headerText(response.headers['content-type'])), bytes, digest: headerText(response.headers['docker-content-digest']) };
    });
  }

  /** The digest a tag points at now (HEAD, so nothing is downloaded when it has not moved). */
  async headManifest(repo: string, tag: string): Promise<string | undefined> {
    const what = `${this.name} manifest ${repo}:${tag}`;
    return this.measured(what, async () => {
      const response = await this.send('HEAD', `/v2/${repo}/manifests/${tag}`, repo, { accept: MANIFEST_ACCEPT });
      await expectSuccess(response, what);
      await response.body.dump();
      return headerText(response.headers['docker-content-digest']);
    });
  }

  /**
   * Starts a blob download. The request is reported when the reader calls `finished`: only bytes
   * read whole and verified count as `ok`, so a transfer cut off half way, or content that does
   * not match its digest, counts as `broken`.
   */
  async getBlob(repo: string, digest: string): Promise<UpstreamBlob> {
    const started = performance.now();
    const what = `${this.name} blob ${digest} of ${repo}`;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.send('GET', `/v2/${repo}/blobs/${digest}`, repo, {});
      await expectSuccess(response, what);
    } catch (err) {
      throw this.settle(networkFailure(err, what), started);
    }
    const seconds = (performance.now() - started) / 1000;
    let reported = false;
    const finished = (err?: unknown): void => {
      if (reported) return;
      reported = true;
      if (err === undefined) return this.succeeded(seconds);
      // The upstream answered: whatever went wrong after the headers, it broke the transfer.
      const outcome = isUpstreamFailure(err) && err.outcome !== 'unreachable' ? err.outcome : 'broken';
      this.observer.requested(this.name, outcome, seconds);
    };
    const length = headerText(response.headers['content-length']);
    return { size: length === undefined ? undefined : Number(length), body: response.body, finished };
  }

  /** Bytes of a blob body as they arrive (counted by the reader, which owns the stream). */
  countBlobBytes(bytes: number): void {
    this.observer.received(this.name, 'blob', bytes);
  }

  async close(): Promise<void> {
    await Promise.all([this.dispatcher.close(), this.elsewhere.close()]);
  }

  private dispatcherFor(url: URL): Agent {
    return url.origin === this.base.origin ? this.dispatcher : this.elsewhere;
  }

  private async measured<T>(what: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await work();
      this.succeeded((performance.now() - started) / 1000);
      return result;
    } catch (err) {
      throw this.settle(networkFailure(err, what), started);
    }
  }

  private succeeded(seconds: number): void {
    this.observer.requested(this.name, 'ok', seconds);
    this.markReachable(true, undefined);
  }

  private settle(failure: UpstreamFailure, started: number): UpstreamFailure {
    this.observer.requested(this.name, failure.outcome, (performance.now() - started) / 1000);
    this.markReachable(!meansUnreachable(failure.outcome), failure);
    return failure;
  }

  private markReachable(up: boolean, failure: UpstreamFailure | undefined): void {
    if (this.up === up) return;
    const first = this.up === undefined;
    this.up = up;
    this.observer.reachable(this.name, up);
    if (!up) this.log.warn({ upstream: this.name, url: this.url, reason: failure?.message }, 'upstream unavailable');
    else if (!first) this.log.info({ upstream: this.name, url: this.url }, 'upstream available again');
  }

  /** One registry request, answering an auth challenge once if the upstream sends one. */
  private async send(method: 'GET' | 'HEAD', path: string, repo: string, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    const scope = `repository:${repo}:pull`;
    const url = new URL(path, this.base);
    const { response, from } = await this.follow(method, url, headers, this.knownAuthorization(scope));
    if (response.statusCode !== 401) return response;
    await response.body.dump();
    // Only the upstream itself is answered with credentials: a host it redirected to is not.
    if (from.origin !== this.base.origin) {
      throw new UpstreamFailure(`${this.name} redirected ${url.pathname} to ${from.origin}, which asks for credentials; porthole sends them only to ${this.base.origin}`, 'denied');
    }
    const challenge = parseAuthChallenge(response.headers['www-authenticate']);
    const authorization = await this.answer(challenge, scope);
    const retried = await this.follow(method, url, headers, authorization);
    if (retried.response.statusCode === 401) this.tokens.forget(challenge?.params.scope ?? scope);
    return retried.response;
  }

  private knownAuthorization(scope: string): string | undefined {
    if (this.scheme === 'basic') return this.basic;
    if (this.scheme === 'bearer') {
      const token = this.tokens.cached(scope);
      return token === undefined ? undefined : `Bearer ${token}`;
    }
    return undefined;
  }

  private async answer(challenge: AuthChallenge | undefined, scope: string): Promise<string> {
    if (challenge?.scheme === 'bearer' && challenge.params.realm !== undefined) {
      this.scheme = 'bearer';
      const tokenScope = challenge.params.scope ?? scope;
      const token = await this.tokens.obtain(tokenScope, () => this.issueToken(challenge, tokenScope));
      return `Bearer ${token}`;
    }
    this.scheme = 'basic';
    if (this.basic === undefined) {
      throw new UpstreamFailure(`${this.name} asks for credentials and proxy.upstreams has none for it`, 'denied');
    }
    return this.basic;
  }

  /** The token dance: GET realm?service=...&scope=..., with the basic credentials when there are some. */
  private async issueToken(challenge: AuthChallenge, scope: string): Promise<IssuedToken> {
    const realm = challenge.params.realm ?? '';
    const url = URL.canParse(realm) ? new URL(realm) : undefined;
    // Credentials never travel in clear text to a realm when the upstream itself is https.
    const allowed = this.base.protocol === 'https:' ? ['https:'] : ['https:', 'http:'];
    if (!url || !allowed.includes(url.protocol)) {
      throw new UpstreamFailure(`${this.name} sent a bearer challenge with an unusable realm "${realm.slice(0, 200)}"`, 'denied');
    }
    if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.basic !== undefined) headers.authorization = this.basic;
    const response = await request(url, { method: 'GET', headers, dispatcher: this.dispatcherFor(url) });
    await expectSuccess(response, `${this.name} token endpoint ${url.origin}${url.pathname}`);
    const body = (await response.body.json().catch(() => undefined)) as { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
    const token = typeof body?.token === 'string' ? body.token : typeof body?.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new UpstreamFailure(`${this.name} token endpoint answered without a token`, 'denied');
    return typeof body?.expires_in === 'number' ? { token, expiresInSeconds: body.expires_in } : { token };
  }

  /**
   * Follows redirects (blob downloads often go to a CDN); credentials never go to another host.
   * Resolves with the final answer and the URL that gave it.
   */
  private async follow(
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    authorization: string | undefined,
  ): Promise<{ response: Dispatcher.ResponseData; from: URL }> {
    let target = url;
    let credentials = authorization;
    for (let hop = 0; ; hop += 1) {
      const sent = credentials === undefined ? headers : { ...headers, authorization: credentials };
      const response = await request(target, { method, headers: sent, dispatcher: this.dispatcherFor(target) });
      if (response.statusCode < 300 || response.statusCode >= 400 || response.statusCode === 304) return { response, from: target };
      const location = headerText(response.headers.location);
      await response.body.dump();
      if (location === undefined || hop >= MAX_REDIRECTS) {
        throw new UpstreamFailure(`${this.name} ${url.pathname}: redirect ${location === undefined ? 'without a Location' : `chain longer than ${MAX_REDIRECTS}`}`, 'broken');
      }
      const next = new URL(location, target);
      if (next.origin !== target.origin) credentials = undefined;
      target = next;
    }
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function expectSuccess(response: Dispatcher.ResponseData, what: string): Promise<void> {
  if (response.statusCode >= 200 && response.statusCode < 300) return;
  await response.body.dump();
  throw new UpstreamFailure(`${what}: the upstream answered ${response.statusCode}`, statusOutcome(response.statusCode));
}

async function readBounded(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      body.destroy();
      throw new UpstreamFailure(`${what}: larger than ${limit} bytes`, 'broken');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, length);
}

function basicCredentials(config: UpstreamConfig, key: string): string | undefined {
  const auth = config.auth;
  if (!auth) return undefined;
  let password = auth.password ?? '';
  if (auth.passwordFromEnv !== undefined) {
    const fromEnv = process.env[auth.passwordFromEnv];
    if (fromEnv === undefined) throw new ConfigError([`${key}.auth.passwordFromEnv: the environment variable ${auth.passwordFromEnv} is not set`]);
    password = fromEnv;
  }
  return `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
}

function tlsOptions(config: UpstreamConfig, key: string): { ca?: Array<string | Buffer>; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } {
  const tls = config.tls;
  if (!tls) return {};
  const read = (field: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const path = tls[field];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError([`${key}.tls.${field}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
    }
  };
  const options: { ca?: Array<string | Buffer>; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } = { rejectUnauthorized: !tls.insecureSkipVerify };
  const ca = read('ca');
  const cert = read('cert');
  const privateKey = read('key');
  // Added to the system's roots, not instead of them: Node's `ca` replaces them otherwise.
  if (ca) options.ca = [...rootCertificates, ca];
  if (cert) options.cert = cert;
  if (privateKey) options.key = privateKey;
  return options;
}
