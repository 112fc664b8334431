/**
 * Secrets must never reach a log file. Headers are not logged at all; query strings are, with
 * the value of every parameter whose name suggests a credential replaced.
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
