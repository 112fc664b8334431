/** Whether the text is an http:// or https:// URL, as the configured clients (undici, the OTLP exporter) take it. */
export function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const { protocol } = new URL(text);
  return protocol === 'http:' || protocol === 'https:';
}

/**
 * Whether a URL carries `user@` or `user:password@` before its host. Credentials in a URL end up
 * wherever the URL is shown (logs, metrics, errors), so config keys that hold URLs refuse them.
 */
export function hasUserinfo(text: string): boolean {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(text)?.[1] ?? '';
  return authority.includes('@');
}
