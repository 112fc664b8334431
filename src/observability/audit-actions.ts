import type { MatchedRoute } from '../http/routes.js';

/** The methods whose requests are audited: every attempt to change something. Reads are not. */
export const AUDITED_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Names the security-relevant action of a write request, from what was asked (not from how it
 * ended), so a refused or failed attempt is recorded under the same action as a successful one.
 * A mount that fell back to an ordinary upload (202) is an upload start.
 */
export function auditAction(method: string, route: MatchedRoute | undefined, query: URLSearchParams, status: number): string {
  if (!route) return `unrouted.${method.toLowerCase()}`;
  switch (`${method} ${route.kind}`) {
    case 'POST uploads':
      if (query.has('mount')) return status === 202 ? 'blob.upload.start' : 'blob.mount';
      return query.has('digest') ? 'blob.upload.single' : 'blob.upload.start';
    case 'PATCH upload':
      return 'blob.upload.chunk';
    case 'PUT upload':
      return 'blob.upload.finish';
    case 'DELETE upload':
      return 'blob.upload.cancel';
    case 'PUT manifest':
      return 'manifest.put';
    case 'DELETE manifest':
      return route.reference !== undefined && !route.reference.includes(':') ? 'tag.delete' : 'manifest.delete';
    case 'DELETE blob':
      return 'blob.delete';
    default:
      return `${route.kind}.${method.toLowerCase()}`;
  }
}
