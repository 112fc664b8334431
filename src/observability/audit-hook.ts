import type { FastifyInstance } from 'fastify';
import { ANONYMOUS } from '../http/request-context.js';
import { requestAction } from '../http/request-action.js';
import { pathOf, queryOf } from '../http/request-url.js';
import { AUDITED_METHODS, auditAction } from './audit-actions.js';
import type { AuditEvent, Auditor } from './audit.js';
import { onRequestDone } from './request-done.js';
import { requestTarget } from './request-target.js';
import type { Tracing } from './tracing/tracing.js';

/**
 * Records every write attempt (POST, PUT, PATCH, DELETE), whatever its outcome: unlike zot,
 * which audits only successes, a refused or failed attempt is what a reviewer most wants to see.
 */
export function auditHook(app: FastifyInstance, auditor: Auditor, tracing: Pick<Tracing, 'idsOf'>): void {
  onRequestDone(app, (request, reply) => {
    if (!AUDITED_METHODS.has(request.method)) return;
    const query = queryOf(request);
    const status = reply.statusCode;
    const event: AuditEvent = {
      action: auditAction(request.method, request.apiRoute, query, status),
      access: requestAction(request.method, request.apiRoute?.kind),
      outcome: status >= 200 && status < 300 ? 'success' : 'failure',
      subject: request.user ?? ANONYMOUS,
      clientIP: request.ip,
      ...requestTarget(request, reply),
      status,
      reqId: request.id,
    };
    // Without a route there is no repository to name: the path is the only clue to the attempt.
    if (request.apiRoute === undefined) event.path = pathOf(request.url);
    const from = query.get('from');
    if (from !== null && event.action === 'blob.mount') event.from = from;
    if (request.errorCode !== undefined) event.error = request.errorCode;
    const ids = tracing.idsOf(request);
    if (ids) Object.assign(event, ids);
    auditor.record(event);
  });
}
