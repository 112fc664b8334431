/**
 * Secrets must never reach a log file. Headers are not logged at all; query strings are, with
 * the value of every parameter whose name suggests a credential replaced; URLs are, with their
 * user information (`user:password@`) replaced as well.
 */
export const REDACTED = '[REDACTED]';

const SECRET_PARAMETER = /token|password|passwd|secret|signature|credential|auth|key|session|sig$/i;

/** The query string (without '?') with secret-looking values replaced; undefined when empty. */
export function redactedQuery(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q === -1 || q === url.length - 1) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  const shown: string[] = [];
  for (const [name, value] of params) {
    shown.push(`${encodeURIComponent(name)}=${SECRET_PARAMETER.test(name) ? REDACTED : encodeURIComponent(value)}`);
  }
  return shown.join('&');
}

/**
 * A URL as it may be logged, audited or exported: its user information replaced
 * (`https://[REDACTED]@host/`), secret-looking query parameters replaced too (a CDN's signed
 * redirect), and no fragment. Text that is not a URL with a host (a realm or a Location header an
 * upstream sent) is redacted more bluntly: everything up to the last '@', and the
 * whole query, so that whatever reaches a log line carries no password.
 */
export function redactedUrl(url: string | URL): string {
  const text = String(url);
  const parsed = URL.canParse(text) ? new URL(text) : undefined;
  if (parsed && parsed.host !== '') {
    const userinfo = parsed.username !== '' || parsed.password !== '' ? `${REDACTED}@` : '';
    const query = redactedQuery(parsed.search);
    return `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}${query === undefined ? '' : `?${query}`}`;
  }
  const blunt = text.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?).*@/is, `$1${REDACTED}@`);
  const q = blunt.indexOf('?');
  return q === -1 ? blunt : `${blunt.slice(0, q)}?${REDACTED}`;
}

/**
 * pino redaction paths: nothing porthole logs today carries headers, but an `err` or a future
 * field that does must not leak credentials.
 */
export const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'headers["set-cookie"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["proxy-authorization"]',
  '*.headers["set-cookie"]',
  'password',
  '*.password',
];
