import { Agent } from 'undici';
import { Authenticator, CredentialsError, type Credentials, type NegotiatedAuth } from './authenticator.js';
import { DrainPool } from './drain-pool.js';
import { exchange, ExchangeError, ProgressWatchdog, type BodyChunks, type ExchangeResult, type Method } from './http-exchange.js';
import type { Recorder } from './recorder.js';

export interface TlsSettings {
  /** PEM certificates to trust besides the system's (--ca). */
  ca?: Buffer;
  /** false with --insecure: the registry's certificate is not verified. */
  rejectUnauthorized: boolean;
}

export interface SessionSettings {
  url: string;
  credentials: Credentials | undefined;
  /** A request that moves no byte for this long fails as a timeout (--timeout). */
  timeoutMs: number;
  /** Connections kept open to the registry: the concurrency, plus a few for setup and cleanup. */
  connections: number;
  tls: TlsSettings;
  userAgent: string;
}

/** A session as it crosses to a worker thread: its settings and what its authenticator negotiated (plain data). */
export interface SessionSpec {
  settings: SessionSettings;
  auth: NegotiatedAuth;
}

/** One operation of a test failed; the message says which request and why. */
export class OperationError extends Error {
  constructor(
    message: string,
    readonly timeout: boolean,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

export interface SendOptions {
  method: Method;
  /** A path relative to the registry's base URL (`v2/team/app/manifests/1`) or a full URL (an upload's Location). */
  target: string | URL;
  /** Token scope the request needs under bearer auth: `repository:NAME:pull`, `...:pull,push`, `registry:catalog:*`. */
  scope: string;
  /** What the request is, in failure messages: `PUT manifest`, `GET layer`. */
  what: string;
  headers?: Record<string, string>;
  body?: () => BodyChunks;
  keepBody?: number;
  /** Statuses that count as success; any other fails the operation. */
  expect: readonly number[];
  /** Send no credentials (a redirect to another origin, such as a storage URL). */
  anonymous?: boolean;
}

/**
 * One registry as porthole-bench talks to it: a pooled keep-alive undici Agent (as many
 * connections as clients), the authenticator, and `send`, which records every answer and turns an
 * unexpected status or a transport failure into an OperationError. GETs whose bodies are only
 * counted (the blobs of a pull, most of the bytes a benchmark moves) go over a DrainPool of
 * the same size instead (drain-pool.ts says why).
 */
export class RegistrySession {
  readonly base: URL;
  readonly auth: Authenticator;
  private readonly agent: Agent;
  private readonly drains: DrainPool;
  private readonly watchdog: ProgressWatchdog;

  constructor(private readonly settings: SessionSettings) {
    this.base = new URL(settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
    const connect: Record<string, unknown> = { rejectUnauthorized: settings.tls.rejectUnauthorized, timeout: Math.min(settings.timeoutMs, 30_000) };
    if (settings.tls.ca) connect.ca = settings.tls.ca;
    this.agent = new Agent({
      connect,
      connections: settings.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: settings.timeoutMs,
      bodyTimeout: settings.timeoutMs,
    });
    this.watchdog = new ProgressWatchdog(settings.timeoutMs);
    this.drains = new DrainPool(settings.connections, settings.tls, this.watchdog);
    this.auth = new Authenticator(settings.credentials, this.base.protocol === 'https:', (url, authorization) =>
      exchange(this.agent, this.watchdog, { method: 'GET', url, headers: this.headers(authorization), keepBody: 1024 * 1024 }),
    );
  }

  /** This session for a worker thread, with `connections` of its own there. */
  spec(connections: number): SessionSpec {
    return { settings: { ...this.settings, connections }, auth: this.auth.negotiated() };
  }

  /** In a worker thread: a session of its own (its Agent, its tokens) like the main thread's. */
  static fromSpec(spec: SessionSpec): RegistrySession {
    const { tls } = spec.settings;
    // A Buffer crosses threads as a plain Uint8Array.
    const settings = { ...spec.settings, tls: { ...tls, ...(tls.ca === undefined ? {} : { ca: Buffer.from(tls.ca) }) } };
    const session = new RegistrySession(settings);
    session.auth.adopt(spec.auth);
    return session;
  }

  get url(): string {
    return this.settings.url;
  }

  resolve(target: string | URL): URL {
    return typeof target === 'string' ? new URL(target.replace(/^\/+/, ''), this.base) : target;
  }

  private headers(authorization: string | undefined, extra?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': this.settings.userAgent, ...extra };
    if (authorization !== undefined) headers.authorization = authorization;
    return headers;
  }

  /** One request without auth handling nor recording (the start-up check, redirects to storage). */
  raw(url: URL, method: Method, authorization?: string, keepBody?: number): Promise<ExchangeResult> {
    return exchange(this.agent, this.watchdog, { method, url, headers: this.headers(authorization), ...(keepBody === undefined ? {} : { keepBody }) });
  }

  async send(options: SendOptions, recorder: Recorder): Promise<ExchangeResult> {
    const url = this.resolve(options.target);
    let first: string | undefined;
    try {
      first = options.anonymous ? undefined : await this.auth.header(options.scope);
    } catch (err) {
      throw new OperationError(`${options.what}: ${err instanceof Error ? err.message : String(err)}`, err instanceof ExchangeError && err.timeout);
    }
    let result = await this.once(url, options, first, recorder);
    if (result.status === 401 && !options.anonymous) {
      let authorization: string | undefined;
      try {
        authorization = await this.auth.answer(result.headers['www-authenticate'], options.scope);
      } catch (err) {
        const timeout = err instanceof ExchangeError && err.timeout;
        throw new OperationError(`${options.what}: ${err instanceof CredentialsError || err instanceof ExchangeError ? err.message : String(err)}`, timeout);
      }
      if (authorization !== undefined) result = await this.once(url, options, authorization, recorder);
    }
    if (!options.expect.includes(result.status)) throw new OperationError(`${options.what} answered ${result.status}`, false);
    return result;
  }

  private async once(url: URL, options: SendOptions, authorization: string | undefined, recorder: Recorder): Promise<ExchangeResult> {
    try {
      const headers = this.headers(authorization, options.headers);
      const drained = options.method === 'GET' && options.body === undefined && options.keepBody === undefined;
      const result = drained
        ? await this.drains.exchange({ url, headers })
        : await exchange(this.agent, this.watchdog, {
            method: options.method,
            url,
            headers,
            ...(options.body === undefined ? {} : { body: options.body }),
            ...(options.keepBody === undefined ? {} : { keepBody: options.keepBody }),
          });
      recorder.answered(result);
      return result;
    } catch (err) {
      recorder.unanswered();
      const failure = err instanceof ExchangeError ? err : new ExchangeError(String(err), false);
      throw new OperationError(`${options.what}: ${failure.timeout ? 'timed out' : failure.message}`, failure.timeout);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.drains.close()]);
  }

  /** Ends every connection at once (a run cut short). */
  async destroy(): Promise<void> {
    await Promise.all([this.agent.destroy(), this.drains.destroy()]);
  }
}
