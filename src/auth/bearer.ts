/** Bearer tokens as requests carry them and as challenges ask for them (distribution's forms). */
import type { MatchedRoute } from '../http/routes.js';
import type { RequestAction } from '../http/request-action.js';
import { CATALOG_SCOPE, formatScope } from './token-scope.js';

/** The token of an `Authorization: Bearer <token>` header; undefined for any other. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

/**
 * The scope a refused request needs, for its challenge, as distribution names it: none for the
 * version check, the catalog's, or the repository's with the action (a push asks pull,push, what
 * clients need for an upload and ask for anyway).
 */
export function scopeOf(route: MatchedRoute, action: RequestAction): string | undefined {
  if (action === 'ping') return undefined;
  if (action === 'catalog') return formatScope(CATALOG_SCOPE);
  const actions = action === 'push' ? ['pull', 'push'] : [action];
  return formatScope({ type: 'repository', name: route.name ?? '', actions });
}

/**
 * Whom a refused token claims to be, for the audit line (its `sub`, unverified: the token failed
 * verification, so this is what it says, not who sent it); never the token itself.
 */
export function unverifiedSubject(token: string): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub.slice(0, 200) : 'anonymous';
  } catch {
    return 'anonymous';
  }
}

