import type { FastifyReply, FastifyRequest } from 'fastify';
import { tryParseDigest } from '../core/digest.js';
import '../http/request-context.js';
import { queryOf } from '../http/request-url.js';

/** What a request was about, as the access log and the audit log name it. */
export interface RequestTarget {
  repo?: string;
  /** A manifest's tag or digest, as the client wrote it. */
  reference?: string;
  digest?: string;
  uploadId?: string;
}

function headerText(reply: FastifyReply, name: string): string | undefined {
  const value = reply.getHeader(name);
  return typeof value === 'string' ? value : undefined;
}

/**
 * Derived from the route, the query and the answer. `repo` is the name as requested, valid or
 * not: an attempt on `../x` is exactly what a reviewer wants to see, and JSON escapes it safely.
 */
export function requestTarget(request: FastifyRequest, reply: FastifyReply): RequestTarget {
  const route = request.apiRoute;
  const target: RequestTarget = {};
  const repo = request.repository ?? route?.name;
  if (repo !== undefined) target.repo = repo;
  if (route?.kind === 'manifest' && route.reference !== undefined) target.reference = route.reference;
  if (route?.kind === 'upload' && route.reference !== undefined) target.uploadId = route.reference;
  // A new session's id is only in the answer; later requests name it in the URL.
  const startedSession = headerText(reply, 'docker-upload-uuid');
  if (target.uploadId === undefined && startedSession !== undefined) target.uploadId = startedSession;
  const digest =
    headerText(reply, 'docker-content-digest') ??
    (route?.reference !== undefined && tryParseDigest(route.reference) ? route.reference : undefined) ??
    // Parsed only when asked: most answers name their digest, and every request gets here.
    queryDigest(request);
  if (digest !== undefined) target.digest = digest;
  return target;
}

/** The digest a query names (an upload's `digest`, a mount's `mount`), when the request has a query. */
function queryDigest(request: FastifyRequest): string | undefined {
  if (!request.url.includes('?')) return undefined;
  const query = queryOf(request);
  return query.get('digest') ?? query.get('mount') ?? undefined;
}
