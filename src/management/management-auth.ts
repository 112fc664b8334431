import type { FastifyRequest } from 'fastify';
import type { AccessGate } from '../auth/access-gate.js';
import { recordLoginFailure } from '../auth/basic-login.js';
import { bearerTokenOf } from '../auth/bearer.js';
import type { MetricsAuth } from '../auth/metrics-auth.js';
import { RegistryError } from '../core/errors.js';
import '../http/request-context.js';
import type { Auditor } from '../observability/audit.js';

/**
 * Who may read the management API (docs/api.md#management-api): the registry's admins and the
 * metrics' readers, authenticated as /v2 authenticates (the access gate: its Basic logins with
 * their limits, counting and audit, its bearer tokens, client certificates), or by the metrics'
 * bearer token. With no auth at all the API is open, as /v2 is; with only the metrics guarded, it
 * is guarded as the metrics are (it tells as much as they do).
 */
export class ManagementAuth {
  constructor(
    private readonly gate: AccessGate | undefined,
    private readonly metrics: MetricsAuth | undefined,
    private readonly auditor: Auditor,
  ) {}

  /** Admits the request, or throws 401 UNAUTHORIZED (with /v2's challenge), 403 DENIED or 429 TOOMANYREQUESTS. */
  async admit(request: FastifyRequest): Promise<void> {
    const { gate, metrics } = this;
    if (gate === undefined && metrics === undefined) return;
    const token = bearerTokenOf(request.headers.authorization);
    // The metrics' token reads what the metrics read; checked before the gate, which would take it
    // for a JWT of auth.token and audit it as a bad one.
    if (token !== undefined && metrics?.acceptsToken(token) === true) return;
    if (gate === undefined) return (metrics as MetricsAuth).admit(request);
    if (token !== undefined && metrics?.hasToken === true && gate.tokens === undefined) {
      // No JWTs here: a wrong metrics token, audited as the metrics endpoint audits it.
      recordLoginFailure(this.auditor, request, 'anonymous', 'wrong metrics bearer token');
      throw gate.anonymousRefusal(request, 'wrong bearer token');
    }
    const user = await gate.whoIs(request);
    if (user === undefined) throw gate.anonymousRefusal(request, 'authentication required: the management API is for admins and metrics readers');
    request.user = user;
    if (gate.policy.isAdmin(user) || metrics?.isReader(user) === true) return;
    throw new RegistryError('DENIED', `${user.slice(0, 200)} may not read the management API: it is for admins (accessControl.adminPolicy) and metrics readers (extensions.metrics.auth.users)`);
  }
}
