import type { FastifyRequest } from 'fastify';
import type { AccessControlConfig, AuthConfig } from '../config/auth-schema.js';
import { durationMs } from '../config/durations.js';
import { RegistryError } from '../core/errors.js';
import { requestAction, type RequestAction } from '../http/request-action.js';
import '../http/request-context.js';
import { queryOf } from '../http/request-url.js';
import type { MatchedRoute } from '../http/routes.js';
import type { PortholeLogger } from '../observability/logger.js';
import { authenticatedOnly, compileAccessControl, type AccessPolicy } from './access-policy.js';
import { BasicLogin, basicCredentialsOf, recordLoginFailure, type LoginRecords } from './basic-login.js';
import { bearerTokenOf, scopeOf, unverifiedSubject } from './bearer.js';
import { bearerChallenge } from './challenge.js';
import { FailedLogins, type LoginLimits, type LoginLimitSettings } from './failed-logins.js';
import type { TokenAuth, VerifiedToken } from './tokens.js';
import { TOKEN_PATH } from './token-endpoint.js';

/** The version check's route: requests outside /v2 are authenticated, and challenged, as GET /v2/ is. */
const VERSION_CHECK: MatchedRoute = { kind: 'base', template: '/v2/' };

export interface AccessGateDeps extends LoginRecords {
  log: PortholeLogger;
  /** The limits on guessing passwords, shared by replicas; FailedLogins of this process when absent. */
  loginLimits?: (settings: LoginLimitSettings) => LoginLimits;
}

/**
 * Who a request is and what it may do, before any handler runs (docs/auth.md): credentials are
 * checked (HTTP Basic against the htpasswd file), then the action on the repository against the
 * policies; or, with auth.token, a bearer token is verified and its `access` claim decides. A
 * request that may not do something is refused the same way whether or not the repository
 * exists: nothing of storage is read before the decision.
 */
export class AccessGate {
  constructor(
    /** Basic logins against the htpasswd file; absent without auth.htpasswd. */
    private readonly basic: BasicLogin | undefined,
    /** Public for porthole's token endpoint, which grants what the policies allow. */
    readonly policy: AccessPolicy,
    /** Whether verified TLS client certificates can name users (http.tls.clientCA). */
    private readonly clientCertificates: boolean,
    private readonly deps: AccessGateDeps,
    /** auth.token: bearer tokens are accepted, and refusals challenge for them. */
    readonly tokens?: TokenAuth,
  ) {}

  /** Authenticates `request` and checks what it asks on `route`; a refusal throws 401 UNAUTHORIZED or 403 DENIED. */
  async admit(request: FastifyRequest, route: MatchedRoute): Promise<void> {
    const action = requestAction(request.method, route.kind);
    const token = this.tokens === undefined ? undefined : bearerTokenOf(request.headers.authorization);
    if (token !== undefined) return this.admitToken(request, route, action, token);
    const user = await this.authenticate(request, route, action);
    if (user !== undefined) request.user = user;
    // The version check always challenges an anonymous client when it could log in: clients
    // (containers/image: skopeo, podman) learn the scheme only there, and without a challenge
    // never send their credentials anywhere (zot #3538). An anonymous client goes on anonymously.
    if (action === 'ping' && user === undefined && (this.basic !== undefined || this.tokens !== undefined)) throw this.refusal(request, route, action, undefined, 'authentication required');
    if (action === 'ping' || action === 'catalog') {
      if (user === undefined && !this.policy.anonymousAnywhere) throw this.refusal(request, route, action, undefined, 'authentication required');
      // The catalog names only what the caller may pull.
      if (action === 'catalog') request.mayPull = (repository) => this.policy.allows(user, repository, 'pull');
      return;
    }
    const repository = route.name ?? '';
    if (!this.policy.allows(user, repository, action)) throw this.refusal(request, route, action, user, `${action} of ${repository.slice(0, 200)} is not allowed for ${user ?? 'anonymous requests'}`);
    // A mount needs pull on its source; without it the client gets an upload session instead, as for a blob not there.
    const from = route.kind === 'uploads' ? queryOf(request).get('from') : null;
    if (from !== null && !this.policy.allows(user, from, 'pull')) request.mountRefused = true;
  }

  /**
   * A request with a bearer token: the token is verified, then its `access` claim is the
   * authority (for porthole's own tokens the policies were applied when it was issued; for an
   * external issuer's, the issuer decided, as with distribution). A bad or expired token, and a
   * good one without the action, get 401 with a challenge naming the scope needed, as
   * distribution answers, so that clients fetch a new token rather than give up.
   */
  private async admitToken(request: FastifyRequest, route: MatchedRoute, action: RequestAction, token: string): Promise<void> {
    const verified = await this.verifyToken(request, route, action, token);
    if (verified.subject !== undefined) request.user = verified.subject;
    if (action === 'ping') return;
    if (action === 'catalog') {
      if (!verified.grants.catalog) throw this.tokenRefusal(request, route, action, 'the token does not grant the catalog', 'insufficient_scope');
      // Porthole's own catalog grant is the policies' for the token's subject, applied to each
      // repository now (the list changes after the token was issued); an external issuer's grant
      // is the whole catalog, as distribution lists it.
      if (this.tokens?.issuer !== undefined) request.mayPull = (repository) => this.policy.allows(verified.subject, repository, 'pull');
      return;
    }
    const repository = route.name ?? '';
    if (!verified.grants.allows(repository, action)) throw this.tokenRefusal(request, route, action, `the token does not grant ${action} of ${repository.slice(0, 200)}`, 'insufficient_scope');
    const from = route.kind === 'uploads' ? queryOf(request).get('from') : null;
    if (from !== null && !verified.grants.allows(from, 'pull')) request.mountRefused = true;
  }

  /** A bearer token verified, counted and (when bad) audited; a bad one throws 401 with the challenge for `action`'s scope. */
  private async verifyToken(request: FastifyRequest, route: MatchedRoute, action: RequestAction, token: string): Promise<VerifiedToken> {
    const tokens = this.tokens as TokenAuth;
    let verified: VerifiedToken;
    try {
      verified = await tokens.verifier.verify(token);
    } catch (err) {
      const reason = `invalid bearer token: ${(err as Error).message}`.slice(0, 300);
      this.deps.attempted('bearer', 'failure');
      recordLoginFailure(this.deps.auditor, request, unverifiedSubject(token), reason);
      throw this.tokenRefusal(request, route, action, reason, 'invalid_token');
    }
    this.deps.attempted('bearer', 'success');
    return verified;
  }

  /**
   * Who a request to an endpoint outside /v2 is (the management API, which admits users rather
   * than actions on repositories): the subject of its bearer token (auth.token), else the user of
   * its Basic credentials or of its client certificate, each checked exactly as on /v2 (the same
   * limits on failed logins, counting and audit); undefined when anonymous. Bad credentials throw
   * what GET /v2/ answers them with: 401 with its challenge, or 429 for a locked login.
   */
  async whoIs(request: FastifyRequest): Promise<string | undefined> {
    const token = this.tokens === undefined ? undefined : bearerTokenOf(request.headers.authorization);
    if (token === undefined) return this.authenticate(request, VERSION_CHECK, 'ping');
    const verified = await this.verifyToken(request, VERSION_CHECK, 'ping', token);
    if (verified.subject === undefined) throw new RegistryError('DENIED', 'the bearer token names no user');
    return verified.subject;
  }

  /** What GET /v2/ answers a request that must log in: 401 with its challenge (403 where no one can log in). */
  anonymousRefusal(request: FastifyRequest, message: string): RegistryError {
    return this.refusal(request, VERSION_CHECK, 'ping', undefined, message);
  }

  /**
   * The user the request is: named by its Basic credentials (checked), else by its verified TLS
   * client certificate; undefined without either; a 401 with wrong credentials or a refused
   * certificate.
   */
  private async authenticate(request: FastifyRequest, route: MatchedRoute, action: RequestAction): Promise<string | undefined> {
    if (request.certificateRefused !== undefined) throw this.refusal(request, route, action, undefined, `client certificate refused: ${request.certificateRefused}`, true);
    const header = request.headers.authorization;
    // Without users to check them against, credentials are ignored: the request is its
    // certificate's user, or anonymous.
    if (header === undefined || this.basic === undefined) return request.certificateUser;
    const encoded = basicCredentialsOf(header);
    if (encoded === undefined) throw this.refusal(request, route, action, undefined, this.tokens ? 'only HTTP Basic credentials and bearer tokens are accepted' : 'only HTTP Basic credentials are accepted');
    return this.login(request, encoded);
  }

  /**
   * The user HTTP Basic credentials (`encoded`: the base64 after "Basic ") name, checked (basic-login.ts);
   * undefined for anonymous ones, or when there are no users. Public for the metrics endpoint and
   * the token endpoint, so that neither is a way around the limits on failed logins.
   */
  login(request: FastifyRequest, encoded: string): Promise<string | undefined> {
    return this.basic === undefined ? Promise.resolve(undefined) : this.basic.login(request, encoded);
  }

  /**
   * 401 when logging in could help (with the Bearer challenge for the action's scope under
   * auth.token, else the Basic challenge when there are users to log in as; with client
   * certificates only, a certificate is the way in), 403 for a known user, or where no one can
   * log in.
   */
  private refusal(request: FastifyRequest, route: MatchedRoute, action: RequestAction, user: string | undefined, message: string, unauthenticated = false): RegistryError {
    const canLogIn = this.basic !== undefined || this.clientCertificates || this.tokens !== undefined;
    if (!unauthenticated && (user !== undefined || !canLogIn)) return new RegistryError('DENIED', message);
    if (this.tokens !== undefined) return this.tokenRefusal(request, route, action, message);
    return new RegistryError('UNAUTHORIZED', message, undefined, this.basic === undefined ? {} : { headers: this.basic.challenge });
  }

  /** 401 with the Bearer challenge: where to get a token (realm, service) for what (the scope of `action`), and why the one sent is not enough. */
  private tokenRefusal(request: FastifyRequest, route: MatchedRoute, action: RequestAction, message: string, error?: 'invalid_token' | 'insufficient_scope'): RegistryError {
    const tokens = this.tokens as TokenAuth;
    // Without a configured realm, porthole's own, on the host and scheme the client used to reach it.
    const realm = tokens.realm ?? `${request.protocol}://${request.host}${TOKEN_PATH}`;
    return new RegistryError('UNAUTHORIZED', message, undefined, { headers: { 'www-authenticate': bearerChallenge(realm, tokens.service, scopeOf(route, action), error) } });
  }

  close(): void {
    this.basic?.close();
  }
}

/**
 * The gate the config asks for; undefined when it asks for none (every request anonymous and
 * allowed). `clientCertificates`: TLS client certificates are verified (http.tls.clientCA), so
 * requests may be users without any other auth configured. The token code (jose) and the
 * htpasswd reader (bcryptjs) are imported only when configured: a registry without them would
 * keep a few MB of resident memory for modules it never runs.
 */
export async function createAccessGate(auth: AuthConfig, accessControl: AccessControlConfig, deps: AccessGateDeps, clientCertificates = false): Promise<AccessGate | undefined> {
  if (auth?.htpasswd === undefined && auth?.token === undefined && accessControl === undefined && !clientCertificates) return undefined;
  const policy = accessControl ? compileAccessControl(accessControl) : authenticatedOnly;
  const tokens = auth?.token ? (await import('./tokens.js')).createTokenAuth(auth.token) : undefined;
  return new AccessGate(auth?.htpasswd ? await basicLogin(auth, auth.htpasswd, deps) : undefined, policy, clientCertificates, deps, tokens);
}

async function basicLogin(auth: NonNullable<AuthConfig>, htpasswd: NonNullable<NonNullable<AuthConfig>['htpasswd']>, deps: AccessGateDeps): Promise<BasicLogin> {
  const { HtpasswdUsers } = await import('./htpasswd.js');
  const users = HtpasswdUsers.open(htpasswd.path, 'auth.htpasswd.path', durationMs(htpasswd.cacheTtl), deps.log);
  const { limit, userLimit, window } = auth.failedLogins;
  const settings = { limit, userLimit, windowMs: durationMs(window) };
  return new BasicLogin(users, deps.loginLimits?.(settings) ?? new FailedLogins(settings), auth.realm, deps);
}
