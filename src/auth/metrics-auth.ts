import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MetricsAuthConfig } from '../config/metrics-auth-schema.js';
import { RegistryError } from '../core/errors.js';
import '../http/request-context.js';
import type { Auditor } from '../observability/audit.js';
import type { PortholeLogger } from '../observability/logger.js';
import { recordLoginFailure } from './basic-login.js';
import { challenge } from './challenge.js';
import { TokenFile } from './token-file.js';

/**
 * How Basic credentials are checked: the access gate's own login (AccessGate.login), so that a
 * scrape's password goes through the same htpasswd users, cache of verified pairs, limits on
 * failed logins, audit and porthole_auth_attempts_total as a registry client's.
 */
export type LoginCheck = (request: FastifyRequest, encoded: string) => Promise<string | undefined>;

const KEY = 'extensions.metrics.auth';

/**
 * Who may read the metrics endpoint (extensions.metrics.auth; the same for full mode's text and
 * minimal mode's snapshot, on the main listener or on its own port). Without credentials, or with
 * wrong ones: 401 with a challenge (Basic when users may log in, else Bearer); a valid htpasswd
 * user who is not one of `users`: 403.
 */
export class MetricsAuth {
  private readonly challenge: Record<string, string>;

  constructor(
    /** Who may read with Basic; undefined: Basic is not accepted here. */
    private readonly users: { names: ReadonlySet<string>; login: LoginCheck } | undefined,
    private readonly token: TokenFile | undefined,
    realm: string,
    private readonly auditor: Auditor,
  ) {
    this.challenge = { 'www-authenticate': challenge(users ? 'Basic' : 'Bearer', realm) };
  }

  /** Admits a reader of the metrics, or throws 401 UNAUTHORIZED, 403 DENIED (or 429 from the limits on failed logins). */
  async admit(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const credentials = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme === 'bearer' && this.token) {
      if (this.token.matches(credentials)) return;
      recordLoginFailure(this.auditor, request, 'anonymous', 'wrong metrics bearer token');
      throw this.unauthorized('wrong bearer token');
    }
    if (scheme === 'basic' && this.users) {
      // Wrong credentials throw 401 (with the same Basic challenge), a locked login 429.
      const user = await this.users.login(request, credentials);
      if (user === undefined) throw this.unauthorized('credentials are required to read the metrics');
      request.user = user;
      if (!this.users.names.has(user)) throw new RegistryError('DENIED', `${user.slice(0, 200)} may not read the metrics (extensions.metrics.auth.users)`);
      return;
    }
    throw this.unauthorized(header === '' ? 'credentials are required to read the metrics' : 'these credentials are not accepted here');
  }

  /**
   * admit() as an onRequest hook of the metrics route. A refusal is answered here, as plain text:
   * the metrics endpoint is read by Prometheus and porthole-exporter, which log the status (and
   * the exporter the text), not an OCI error body.
   */
  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    try {
      await this.admit(request);
      return undefined;
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      request.errorCode = err.code;
      // Returning the reply tells Fastify that the hook answered: the handler does not run.
      return reply.code(err.status).headers(err.headers).header('content-type', 'text/plain; charset=utf-8').send(`${err.message}\n`);
    }
  };

  /** Whether `token` is the bearer token of bearerTokenFile (false without one): for the management API, which admits metrics readers too. */
  acceptsToken(token: string): boolean {
    return this.token?.matches(token) === true;
  }

  /** Whether a bearer token is configured (bearerTokenFile). */
  get hasToken(): boolean {
    return this.token !== undefined;
  }

  /** Whether an authenticated user is one of `users`, who may read the metrics (and the management API). */
  isReader(user: string): boolean {
    return this.users?.names.has(user) === true;
  }

  private unauthorized(message: string): RegistryError {
    return new RegistryError('UNAUTHORIZED', message, undefined, { headers: this.challenge });
  }

  close(): void {
    this.token?.close();
  }
}

export interface MetricsAuthDeps {
  /** The access gate's login; present whenever auth.htpasswd is (which `users` needs: schema.ts). */
  login: LoginCheck | undefined;
  realm: string;
  auditor: Auditor;
  log: PortholeLogger;
}

/** The guard extensions.metrics.auth asks for; undefined without it (the metrics stay open). */
export function createMetricsAuth(auth: MetricsAuthConfig | undefined, deps: MetricsAuthDeps): MetricsAuth | undefined {
  if (auth === undefined) return undefined;
  if (auth.users !== undefined && deps.login === undefined) throw new Error(`${KEY}.users without auth.htpasswd: the config schema should have refused it`);
  const users = auth.users !== undefined && deps.login !== undefined ? { names: new Set(auth.users), login: deps.login } : undefined;
  const token = auth.bearerTokenFile === undefined ? undefined : TokenFile.open(auth.bearerTokenFile, `${KEY}.bearerTokenFile`, deps.log);
  return new MetricsAuth(users, token, deps.realm, deps.auditor);
}
