import type { AuthChallenge } from './auth-challenge.js';
import type { IssuedToken } from './token-cache.js';

/**
 * The two halves of the bearer-token dance that every client of another registry does alike (the
 * pull-through cache, porthole-exporter's API mode, porthole-bench): where to ask for a token, and
 * what the answer gives. Each client keeps its own HTTP, its own errors and its own rule on where
 * credentials may go.
 */

/**
 * The token request's URL: the challenge's realm with its `service` and the `scope` asked for (none
 * when empty, as for the catalog-less ping); undefined when the realm is not a URL at all.
 */
export function tokenRequestUrl(challenge: AuthChallenge, scope: string): URL | undefined {
  const realm = challenge.params.realm ?? '';
  if (!URL.canParse(realm)) return undefined;
  const url = new URL(realm);
  if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
  if (scope !== '') url.searchParams.set('scope', scope);
  return url;
}

/** What a token endpoint's JSON answer gives: `token` (or OAuth's `access_token`) and `expires_in`; undefined without a token. */
export function issuedTokenOf(body: unknown): IssuedToken | undefined {
  const answer = typeof body === 'object' && body !== null ? (body as { token?: unknown; access_token?: unknown; expires_in?: unknown }) : {};
  const token = typeof answer.token === 'string' ? answer.token : typeof answer.access_token === 'string' ? answer.access_token : undefined;
  if (!token) return undefined;
  return typeof answer.expires_in === 'number' ? { token, expiresInSeconds: answer.expires_in } : { token };
}
