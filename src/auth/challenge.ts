/** A quoted-string parameter. Quotes and backslashes are dropped rather than escaped: clients differ in how they read escapes, and no value here needs them. */
function quoted(name: string, value: string): string {
  return `${name}="${value.replace(/["\\]/g, '')}"`;
}

/**
 * A WWW-Authenticate value naming `realm` (auth.realm).
 */
export function challenge(scheme: 'Basic' | 'Bearer', realm: string): string {
  // RFC 7617: the charset parameter tells a Basic client to send UTF-8 user names and passwords.
  return scheme === 'Basic' ? `Basic ${quoted('realm', realm)}, charset="UTF-8"` : `Bearer ${quoted('realm', realm)}`;
}

/**
 * The Bearer challenge of the token flow, written as distribution writes it
 * (`Bearer realm="...",service="...",scope="...",error="..."`, no spaces): the client fetches a
 * token for `scope` from `realm`. `error` says why a token that was sent is not enough:
 * `invalid_token` (bad, expired) or `insufficient_scope` (valid, without the action).
 */
export function bearerChallenge(realm: string, service: string, scope?: string, error?: 'invalid_token' | 'insufficient_scope'): string {
  const parameters = [quoted('realm', realm), quoted('service', service)];
  if (scope !== undefined) parameters.push(quoted('scope', scope));
  if (error !== undefined) parameters.push(quoted('error', error));
  return `Bearer ${parameters.join(',')}`;
}
