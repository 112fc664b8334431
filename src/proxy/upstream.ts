import type { SharedValues } from '../coordination/shared-values.js';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { ConfigError } from '../config/load.js';
import { durationMs } from '../config/durations.js';
import type { UpstreamConfig } from '../config/proxy-schema.js';
import { MAX_MANIFEST_BYTES } from '../core/manifest.js';
import { bareMediaType, MANIFEST_ACCEPT } from '../core/media-types.js';
import type { PortholeLogger } from '../observability/logger.js';
import { redactedUrl } from '../observability/redact.js';
import { parseAuthChallenge, type AuthChallenge } from './auth-challenge.js';
import { issuedTokenOf, tokenRequestUrl } from './token-request.js';
import { TokenCache, type IssuedToken } from './token-cache.js';
import { UpstreamCircuit, type CircuitChange, type CircuitState, type CircuitTicket } from './upstream-circuit.js';
import { isUpstreamFailure, meansUnreachable, networkFailure, statusOutcome, UpstreamFailure, UpstreamUnavailable, type UpstreamOutcome } from './upstream-failure.js';
import type { TraceScope } from '../observability/tracing/tracing.js';

const MAX_REDIRECTS = 5;

/** Where an upstream's requests are reported (metrics); one call per request, when it is settled. */
export interface UpstreamObserver {
  requested(namespace: string, outcome: UpstreamOutcome, seconds: number): void;
  received(namespace: string, type: 'manifest' | 'blob', bytes: number): void;
  reachable(namespace: string, up: boolean): void;
  /** The upstream's circuit changed state (see upstream-circuit.ts). */
  circuitChanged(namespace: string, to: CircuitState): void;
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
 * Where an upstream request belongs in its trace: a span for the token dance, trace headers for
 * every request. Each request is given its caller's place (TraceScope), held across its awaits.
 */
export type UpstreamTracing = Pick<TraceScope, 'span' | 'outgoingHeaders'>;

/**
 * One upstream registry: its connection pool, timeouts, credentials and tokens, and its circuit
 * (upstream-circuit.ts): while it is known to be unreachable, requests fail at once with
 * UpstreamUnavailable instead of waiting for it, and a change of state is logged once, not per
 * request. Every request is anonymous until the upstream challenges; then basic credentials or a
 * bearer token from the challenge's realm are sent, and the token is reused until it expires.
 */
export class Upstream {
  readonly name: string;
  /** The base URL as logs may show it (config refuses credentials in it; this is the second line). */
  private readonly shownUrl: string;
  private readonly base: URL;
  /** Connections to the upstream itself, with its TLS settings. */
  private readonly dispatcher: Agent;
  /** Connections anywhere else (blob CDNs, token realms): the system's trust, no client certificate. */
  private readonly elsewhere: Agent;
  private readonly timeoutMs: number;
  private readonly basic: string | undefined;
  private readonly tokens: TokenCache;
  /** Which scheme the upstream asked for last, so later requests can answer before being asked. */
  private scheme: AuthChallenge['scheme'] | undefined;
  private readonly circuit: UpstreamCircuit;
  /** Whether any request has been answered yet: porthole_proxy_upstream_up is absent until then. */
  private answeredOnce = false;
  /** Set by close(): requests cut off by the shutdown say nothing about the upstream. */
  private closing = false;

  constructor(
    config: UpstreamConfig,
    configKey: string,
    private readonly observer: UpstreamObserver,
    private readonly log: PortholeLogger,
    /** Where the replicas of a store share upstream tokens; absent: this process keeps its own. */
    sharedTokens?: SharedValues,
  ) {
    this.name = config.name;
    const url = config.url.replace(/\/$/, '');
    this.shownUrl = redactedUrl(url).replace(/\/$/, '');
    this.base = new URL(url);
    this.circuit = new UpstreamCircuit({ openMs: durationMs(config.unavailableRetry), maxOpenMs: durationMs(config.unavailableRetryMax) }, (change) => this.circuitChanged(change));
    this.timeoutMs = durationMs(config.timeout);
    this.basic = basicCredentials(config, configKey);
    // Tokens depend on the registry and on who asked for them: the key names both (the user, not the password).
    this.tokens = new TokenCache(Date.now, sharedTokens && { values: sharedTokens, key: `${this.base.toString()}#${config.auth?.username ?? ''}` });
    const timeouts = { connectTimeout: this.timeoutMs, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs };
    this.dispatcher = new Agent({ connect: tlsOptions(config, configKey), ...timeouts });
    this.elsewhere = new Agent(timeouts);
  }

  /** A manifest by tag or digest, its bytes read whole (they are small, and bounded). */
  async getManifest(repo: string, reference: string, trace: UpstreamTracing): Promise<UpstreamManifest> {
    const what = `${this.name} manifest ${repo}:${reference}`;
    return this.measured(what, async () => {
      const { response, from } = await this.send(trace, 'GET', `/v2/${repo}/manifests/${reference}`, repo, { accept: MANIFEST_ACCEPT });
      await this.expectSuccess(response, what, from);
      const bytes = await readBounded(response.body, MAX_MANIFEST_BYTES, what);
      this.observer.received(this.name, 'manifest', bytes.length);
      return { mediaType: bareMediaType(headerText(response.headers['content-type'])), bytes, digest: headerText(response.headers['docker-content-digest']) };
    });
  }

  /** The digest a tag points at now (HEAD, so nothing is downloaded when it has not moved). */
  async headManifest(repo: string, tag: string, trace: UpstreamTracing): Promise<string | undefined> {
    const what = `${this.name} manifest ${repo}:${tag}`;
    return this.measured(what, async () => {
      const { response, from } = await this.send(trace, 'HEAD', `/v2/${repo}/manifests/${tag}`, repo, { accept: MANIFEST_ACCEPT });
      await this.expectSuccess(response, what, from);
      await response.body.dump();
      return headerText(response.headers['docker-content-digest']);
    });
  }

  /**
   * Starts a blob download. The request is reported when the reader calls `finished`: only bytes
   * read whole and verified count as `ok`, so a transfer cut off half way, or content that does
   * not match its digest, counts as `broken`.
   */
  async getBlob(repo: string, digest: string, trace: UpstreamTracing): Promise<UpstreamBlob> {
    const what = `${this.name} blob ${digest} of ${repo}`;
    const ticket = this.admit(what);
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      const answer = await this.send(trace, 'GET', `/v2/${repo}/blobs/${digest}`, repo, {});
      response = answer.response;
      await this.expectSuccess(response, what, answer.from);
    } catch (err) {
      throw this.settle(ticket, networkFailure(err, what), started);
    }
    // The upstream answered: it is reachable, whatever becomes of the body. A transfer that breaks
    // off later does not open the circuit: the next request may well get its answer.
    this.circuit.succeeded(ticket);
    this.noteAnswered();
    const seconds = (performance.now() - started) / 1000;
    let reported = false;
    const finished = (err?: unknown): void => {
      if (reported) return;
      reported = true;
      if (err === undefined) return this.observer.requested(this.name, 'ok', seconds);
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

  /** Whether requests go to the upstream now; false while it is known to be unreachable (the circuit is open or half-open). */
  available(): boolean {
    return this.circuit.state === 'closed';
  }

  /**
   * At shutdown, once no client request is left: requests still running (revalidations in the
   * background) are cut off rather than waited for, which may take the whole timeout.
   */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.dispatcher.destroy(), this.elsewhere.destroy()]);
  }

  private dispatcherFor(url: URL): Agent {
    return url.origin === this.base.origin ? this.dispatcher : this.elsewhere;
  }

  private async measured<T>(what: string, work: () => Promise<T>): Promise<T> {
    const ticket = this.admit(what);
    const started = performance.now();
    try {
      const result = await work();
      this.observer.requested(this.name, 'ok', (performance.now() - started) / 1000);
      this.circuit.succeeded(ticket);
      this.noteAnswered();
      return result;
    } catch (err) {
      throw this.settle(ticket, networkFailure(err, what), started);
    }
  }

  /** Leave from the circuit to send a request, or UpstreamUnavailable at once (nothing is sent, nothing counted). */
  private admit(what: string): CircuitTicket {
    const ticket = this.circuit.admit();
    if (ticket) return ticket;
    const seconds = Math.ceil(this.circuit.retryInMs() / 1000);
    throw new UpstreamUnavailable(`${what}: ${this.name} is unavailable (its last request failed), tried again ${seconds > 0 ? `in ${seconds} s` : 'once a probe request has an answer'}`);
  }

  /** A request that failed: counted, and, when it means the upstream cannot be reached, reported to the circuit. */
  private settle(ticket: CircuitTicket, failure: UpstreamFailure, started: number): UpstreamFailure {
    if (this.closing) return failure;
    this.observer.requested(this.name, failure.outcome, (performance.now() - started) / 1000);
    if (meansUnreachable(failure.outcome) && failure.elsewhere === undefined) {
      this.circuit.failed(ticket, failure.message);
    } else {
      // A clear answer (404, 401, 429), or a failure of another host it sent porthole to: the upstream is there.
      this.circuit.succeeded(ticket);
      this.noteAnswered();
    }
    return failure;
  }

  /** The first answer ever sets porthole_proxy_upstream_up; later ones change nothing the circuit has not. */
  private noteAnswered(): void {
    if (this.answeredOnce) return;
    this.answeredOnce = true;
    if (this.circuit.state === 'closed') this.observer.reachable(this.name, true);
  }

  /** Each change of state is counted; becoming unavailable and available again are logged once each. */
  private circuitChanged({ from, to, reason, retryInMs }: CircuitChange): void {
    this.observer.circuitChanged(this.name, to);
    const retryInSeconds = retryInMs === undefined ? undefined : retryInMs / 1000;
    if (to === 'open' && from === 'closed') {
      this.answeredOnce = true;
      this.observer.reachable(this.name, false);
      this.log.warn({ upstream: this.name, url: this.shownUrl, reason, retryInSeconds }, 'upstream unavailable');
    } else if (to === 'open') {
      this.log.debug({ upstream: this.name, url: this.shownUrl, reason, retryInSeconds }, 'upstream still unavailable');
    } else if (to === 'half_open') {
      this.log.debug({ upstream: this.name, url: this.shownUrl }, 'probing an unavailable upstream');
    } else {
      this.observer.reachable(this.name, true);
      this.log.info({ upstream: this.name, url: this.shownUrl }, 'upstream available again');
    }
  }

  /** One registry request, answering an auth challenge once if the upstream sends one; with the URL that gave the answer. */
  private async send(trace: UpstreamTracing, method: 'GET' | 'HEAD', path: string, repo: string, headers: Record<string, string>): Promise<{ response: Dispatcher.ResponseData; from: URL }> {
    const scope = `repository:${repo}:pull`;
    const url = new URL(path, this.base);
    // The trace goes on into the upstream registry (and wherever it sends porthole).
    const traced = { ...trace.outgoingHeaders(), ...headers };
    const first = await this.follow(method, url, traced, this.knownAuthorization(scope));
    const { response, from } = first;
    if (response.statusCode !== 401) return first;
    await response.body.dump();
    // Only the upstream itself is answered with credentials: a host it redirected to is not.
    if (from.origin !== this.base.origin) {
      throw new UpstreamFailure(`${this.name} redirected ${url.pathname} to ${from.origin}, which asks for credentials; porthole sends them only to ${this.base.origin}`, 'denied');
    }
    const challenge = parseAuthChallenge(response.headers['www-authenticate']);
    const authorization = await this.answer(trace, challenge, scope);
    const retried = await this.follow(method, url, traced, authorization);
    if (retried.response.statusCode === 401) this.tokens.forget(challenge?.params.scope ?? scope);
    return retried;
  }

  /** One HTTP exchange; a failure at another origin than the upstream's (a CDN, a token realm) says where. */
  private async exchange(target: URL, options: { method: 'GET' | 'HEAD'; headers: Record<string, string> }): Promise<Dispatcher.ResponseData> {
    try {
      return await request(target, { ...options, dispatcher: this.dispatcherFor(target) });
    } catch (err) {
      if (target.origin === this.base.origin) throw err;
      throw networkFailure(err, `${this.name} sent porthole to ${redactedUrl(target.origin)}`, target.origin);
    }
  }

  /** A failure unless the answer is a 2xx; `from` is the URL that answered. */
  private async expectSuccess(response: Dispatcher.ResponseData, what: string, from: URL): Promise<void> {
    if (response.statusCode >= 200 && response.statusCode < 300) return;
    await response.body.dump();
    const elsewhere = from.origin === this.base.origin ? undefined : from.origin;
    const who = elsewhere === undefined ? 'the upstream' : redactedUrl(elsewhere);
    throw new UpstreamFailure(`${what}: ${who} answered ${response.statusCode}`, statusOutcome(response.statusCode), elsewhere);
  }

  private knownAuthorization(scope: string): string | undefined {
    if (this.scheme === 'basic') return this.basic;
    if (this.scheme === 'bearer') {
      const token = this.tokens.cached(scope);
      return token === undefined ? undefined : `Bearer ${token}`;
    }
    return undefined;
  }

  private async answer(trace: UpstreamTracing, challenge: AuthChallenge | undefined, scope: string): Promise<string> {
    if (challenge?.scheme === 'bearer' && challenge.params.realm !== undefined) {
      this.scheme = 'bearer';
      const tokenScope = challenge.params.scope ?? scope;
      const token = await this.tokens.obtain(tokenScope, () =>
        trace.span('proxy.token', { 'porthole.upstream': this.name, 'porthole.scope': tokenScope }, (span) => this.issueToken(span.scope, challenge, tokenScope)),
      );
      return `Bearer ${token}`;
    }
    this.scheme = 'basic';
    if (this.basic === undefined) {
      throw new UpstreamFailure(`${this.name} asks for credentials and proxy.upstreams has none for it`, 'denied');
    }
    return this.basic;
  }

  /** The token dance: GET realm?service=...&scope=..., with the basic credentials when there are some. */
  private async issueToken(trace: UpstreamTracing, challenge: AuthChallenge, scope: string): Promise<IssuedToken> {
    const url = tokenRequestUrl(challenge, scope);
    // Credentials never travel in clear text to a realm when the upstream itself is https.
    const allowed = this.base.protocol === 'https:' ? ['https:'] : ['https:', 'http:'];
    if (!url || !allowed.includes(url.protocol)) {
      throw new UpstreamFailure(`${this.name} sent a bearer challenge with an unusable realm "${redactedUrl((challenge.params.realm ?? '').slice(0, 200))}"`, 'denied');
    }
    // The token request is in the trace too, under proxy.token.
    const headers: Record<string, string> = { ...trace.outgoingHeaders(), accept: 'application/json' };
    if (this.basic !== undefined) headers.authorization = this.basic;
    const response = await this.exchange(url, { method: 'GET', headers });
    await this.expectSuccess(response, `${this.name} token endpoint ${redactedUrl(`${url.origin}${url.pathname}`)}`, url);
    const issued = issuedTokenOf(await response.body.json().catch(() => undefined));
    if (!issued) throw new UpstreamFailure(`${this.name} token endpoint answered without a token`, 'denied');
    return issued;
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
      const response = await this.exchange(target, { method, headers: sent });
      if (response.statusCode < 300 || response.statusCode >= 400 || response.statusCode === 304) return { response, from: target };
      const location = headerText(response.headers.location);
      await response.body.dump();
      if (location === undefined || hop >= MAX_REDIRECTS) {
        throw new UpstreamFailure(`${this.name} ${url.pathname}: redirect ${location === undefined ? 'without a Location' : `chain longer than ${MAX_REDIRECTS}`}`, 'broken');
      }
      const next = new URL(location, target);
      // Credentials in a Location are never used (nor shown in a message): porthole sends only its own.
      next.username = '';
      next.password = '';
      if (next.origin !== target.origin) credentials = undefined;
      target = next;
    }
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
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
