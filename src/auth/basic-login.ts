import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.js';
import type { Auditor } from '../observability/audit.js';
import { challenge } from './challenge.js';
import type { LoginLimits } from './failed-logins.js';
import type { HtpasswdUsers } from './htpasswd.js';

/** How a login attempt ended (porthole_auth_attempts_total's outcome label): `locked` was refused unchecked (too many failures). */
export type AuthOutcome = 'success' | 'failure' | 'locked';

/** Where logins are counted and failures audited. */
export interface LoginRecords {
  auditor: Auditor;
  /** Counts each request that presented credentials (porthole_auth_attempts_total). */
  attempted(method: 'basic' | 'bearer', outcome: AuthOutcome): void;
}

/** The base64 credentials of an `Authorization: Basic <credentials>` header; undefined for any other. */
export function basicCredentialsOf(header: string): string | undefined {
  const [scheme, encoded] = header.split(' ', 2);
  return scheme?.toLowerCase() === 'basic' ? encoded : undefined;
}

/** A failed login in the audit log: whom it claimed to be and why it failed, never the secret. */
export function recordLoginFailure(auditor: Auditor, request: FastifyRequest, subject: string, reason: string): void {
  auditor.record({ action: 'auth.login', outcome: 'failure', subject: subject.slice(0, 200), clientIP: request.ip, reqId: request.id, detail: reason });
}

/**
 * HTTP Basic logins against the htpasswd file, under the limits on failed logins (docs/auth.md):
 * each attempt counted, each failure audited. Used by the access gate on /v2, and through it by
 * porthole's token endpoint and the metrics endpoint, so that none is a way around the limits.
 */
export class BasicLogin {
  /** The Basic challenge (WWW-Authenticate) of a 401. */
  readonly challenge: Record<string, string>;

  constructor(
    private readonly users: HtpasswdUsers,
    private readonly failedLogins: LoginLimits,
    realm: string,
    private readonly records: LoginRecords,
  ) {
    this.challenge = { 'www-authenticate': challenge('Basic', realm) };
  }

  /**
   * The user that Basic credentials (`encoded`: the base64 after "Basic ") name; undefined for
   * anonymous ones. A wrong pair throws 401, a locked address or user 429.
   */
  async login(request: FastifyRequest, encoded: string): Promise<string | undefined> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    // What an anonymous client sends once challenged (skopeo: `Basic Og==`, ":"): anonymous.
    if (user === '' && password === '') return undefined;
    // A locked address or user is refused before the password is even looked at: a right
    // guess during the lock tells nothing.
    const retryAfter = await this.failedLogins.retryAfter(request.ip, user);
    if (retryAfter > 0) {
      this.records.attempted('basic', 'locked');
      recordLoginFailure(this.records.auditor, request, user, 'too many failed logins');
      throw new RegistryError('TOOMANYREQUESTS', `too many failed logins; try again in ${retryAfter} s`, undefined, { headers: { 'retry-after': String(retryAfter) } });
    }
    const verified = await this.users.verify(user, password);
    this.records.attempted('basic', verified ? 'success' : 'failure');
    if (verified) return user;
    await this.failedLogins.failed(request.ip, user);
    recordLoginFailure(this.records.auditor, request, user, 'wrong user name or password');
    // The same answer for an unknown user and a wrong password; the challenge is Basic's even with
    // tokens: it was a Basic login that failed (on /v2, at /auth/token or at /metrics).
    throw new RegistryError('UNAUTHORIZED', 'wrong user name or password', undefined, { headers: this.challenge });
  }

  close(): void {
    this.users.close();
  }
}
