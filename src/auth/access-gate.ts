import type { FastifyRequest } from 'fastify';
import type { AccessControlConfig, AuthConfig } from '../config/auth-schema.js';
import { durationMs } from '../config/durations.js';
import { RegistryError } from '../core/errors.js';
import { requestAction } from '../http/request-action.js';
import '../http/request-context.js';
import { queryOf } from '../http/request-url.js';
import type { MatchedRoute } from '../http/routes.js';
import type { Auditor } from '../observability/audit.js';
import type { PortholeLogger } from '../observability/logger.js';
import { authenticatedOnly, compileAccessControl, type AccessPolicy } from './access-policy.js';
import { challenge } from './challenge.js';
import { FailedLogins } from './failed-logins.js';
import { HtpasswdUsers } from './htpasswd.js';

/** How a login attempt ended (porthole_auth_attempts_total's outcome label): `locked` was refused unchecked (too many failures). */
export type AuthOutcome = 'success' | 'failure' | 'locked';

export interface AccessGateDeps {
  log: PortholeLogger;
  auditor: Auditor;
  /** Counts each request that presented credentials (porthole_auth_attempts_total). */
  attempted(method: 'basic', outcome: AuthOutcome): void;
}

/**
 * Who a request is and what it may do, before any handler runs (docs/auth.md): credentials are
 * checked (HTTP Basic against the htpasswd file), then the action on the repository against the
 * policies. A request that may not do something is refused the same way whether or not the
 * repository exists: nothing of storage is read before the decision.
 */
export class AccessGate {
  private readonly challenge: Record<string, string>;

  constructor(
    private readonly users: HtpasswdUsers | undefined,
    private readonly policy: AccessPolicy,
    private readonly failedLogins: FailedLogins,
    /** Whether verified TLS client certificates can name users (http.tls.clientCA). */
    private readonly clientCertificates: boolean,
    realm: string,
    private readonly deps: AccessGateDeps,
  ) {
    this.challenge = { 'www-authenticate': challenge('Basic', realm) };
  }

  /** Authenticates `request` and checks what it asks on `route`; a refusal throws 401 UNAUTHORIZED or 403 DENIED. */
  async admit(request: FastifyRequest, route: MatchedRoute): Promise<void> {
    const user = await this.authenticate(request);
    if (user !== undefined) request.user = user;
    const action = requestAction(request.method, route.kind);
    // The version check always challenges an anonymous client when it could log in: clients
    // (containers/image: skopeo, podman) learn the scheme only there, and without a challenge
    // never send their credentials anywhere (zot #3538). An anonymous client goes on anonymously.
    if (action === 'ping' && user === undefined && this.users !== undefined) throw this.refusal(undefined, 'authentication required');
    if (action === 'ping' || action === 'catalog') {
      if (user === undefined && !this.policy.anonymousAnywhere) throw this.refusal(undefined, 'authentication required');
      // The catalog names only what the caller may pull.
      if (action === 'catalog') request.mayPull = (repository) => this.policy.allows(user, repository, 'pull');
      return;
    }
    const repository = route.name ?? '';
    if (!this.policy.allows(user, repository, action)) throw this.refusal(user, `${action} of ${repository.slice(0, 200)} is not allowed for ${user ?? 'anonymous requests'}`);
    // A mount needs pull on its source; without it the client gets an upload session instead, as for a blob not there.
    const from = route.kind === 'uploads' ? queryOf(request).get('from') : null;
    if (from !== null && !this.policy.allows(user, from, 'pull')) request.mountRefused = true;
  }

  /**
   * The user the request is: named by its Basic credentials (checked), else by its verified TLS
   * client certificate; undefined without either; a 401 with wrong credentials or a refused
   * certificate.
   */
  private async authenticate(request: FastifyRequest): Promise<string | undefined> {
    if (request.certificateRefused !== undefined) throw this.refusal(undefined, `client certificate refused: ${request.certificateRefused}`, true);
    const header = request.headers.authorization;
    // Without users to check them against, credentials are ignored: the request is its
    // certificate's user, or anonymous.
    if (header === undefined || this.users === undefined) return request.certificateUser;
    const [scheme, encoded] = header.split(' ', 2);
    if (scheme?.toLowerCase() !== 'basic' || encoded === undefined) throw this.refusal(undefined, 'only HTTP Basic credentials are accepted');
    return this.login(request, encoded);
  }

  /**
   * The user that HTTP Basic credentials (`encoded`: the base64 after "Basic ") name, checked
   * against the htpasswd file under the limits on failed logins, each attempt counted and each
   * failure audited; undefined for anonymous ones (or when there are no users). A wrong pair
   * throws 401, a locked address or user 429. Public for the metrics endpoint (metrics-auth.ts),
   * so that /metrics is no way around the limits and shares the cache of verified pairs.
   */
  async login(request: FastifyRequest, encoded: string): Promise<string | undefined> {
    if (this.users === undefined) return undefined;
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    // What an anonymous client sends once challenged (skopeo: `Basic Og==`, ":"): anonymous.
    if (user === '' && password === '') return undefined;
    // A locked address or user is refused before the password is even looked at: a right
    // guess during the lock tells nothing.
    const retryAfter = this.failedLogins.retryAfter(request.ip, user);
    if (retryAfter > 0) {
      this.deps.attempted('basic', 'locked');
      this.auditFailure(request, user, 'too many failed logins');
      throw new RegistryError('TOOMANYREQUESTS', `too many failed logins; try again in ${retryAfter} s`, undefined, { headers: { 'retry-after': String(retryAfter) } });
    }
    const verified = await this.users.verify(user, password);
    this.deps.attempted('basic', verified ? 'success' : 'failure');
    if (verified) return user;
    this.failedLogins.failed(request.ip, user);
    this.auditFailure(request, user, 'wrong user name or password');
    // The same answer for an unknown user and a wrong password.
    throw this.refusal(undefined, 'wrong user name or password');
  }

  private auditFailure(request: FastifyRequest, user: string, reason: string): void {
    this.deps.auditor.record({ action: 'auth.login', outcome: 'failure', subject: user.slice(0, 200), clientIP: request.ip, reqId: request.id, detail: reason });
  }

  /**
   * 401 when logging in could help (with the Basic challenge when there are users to log in as;
   * with client certificates only, a certificate is the way in), 403 for a known user, or where
   * no one can log in.
   */
  private refusal(user: string | undefined, message: string, unauthenticated = false): RegistryError {
    const canLogIn = this.users !== undefined || this.clientCertificates;
    if (!unauthenticated && (user !== undefined || !canLogIn)) return new RegistryError('DENIED', message);
    return new RegistryError('UNAUTHORIZED', message, undefined, this.users === undefined ? {} : { headers: this.challenge });
  }

  close(): void {
    this.users?.close();
  }
}

/**
 * The gate the config asks for; undefined when it asks for none (every request anonymous and
 * allowed). `clientCertificates`: TLS client certificates are verified (http.tls.clientCA), so
 * requests may be users without any other auth configured.
 */
export function createAccessGate(auth: AuthConfig, accessControl: AccessControlConfig, deps: AccessGateDeps, clientCertificates = false): AccessGate | undefined {
  if (auth?.htpasswd === undefined && accessControl === undefined && !clientCertificates) return undefined;
  const users = auth?.htpasswd ? HtpasswdUsers.open(auth.htpasswd.path, 'auth.htpasswd.path', durationMs(auth.htpasswd.cacheTtl), deps.log) : undefined;
  const policy = accessControl ? compileAccessControl(accessControl) : authenticatedOnly;
  // Without auth there are no logins to limit (credentials are ignored); the limits are unused.
  const limits = auth?.failedLogins ?? { limit: 1, userLimit: 1, window: '0s' };
  const failedLogins = new FailedLogins({ limit: limits.limit, userLimit: limits.userLimit, windowMs: durationMs(limits.window) });
  return new AccessGate(users, policy, failedLogins, clientCertificates, auth?.realm ?? 'porthole', deps);
}


