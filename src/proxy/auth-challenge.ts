/**
 * A parsed `WWW-Authenticate` header of a registry: `Bearer realm="...",service="...",scope="..."`
 * (the token dance of Docker Hub and distribution's token auth) or `Basic realm="..."`.
 */
export interface AuthChallenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parameters are `key="quoted, value"` or `key=token`, separated by commas. */
const PARAMETER = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;

export function parseAuthChallenge(header: string | string[] | undefined): AuthChallenge | undefined {
  const candidates = Array.isArray(header) ? header : header === undefined ? [] : [header];
  // A server may offer several challenges; bearer is preferred, it is what a registry means.
  const parsed = candidates.map(parseOne).filter((challenge): challenge is AuthChallenge => challenge !== undefined);
  return parsed.find((challenge) => challenge.scheme === 'bearer') ?? parsed[0];
}

function parseOne(text: string): AuthChallenge | undefined {
  const match = /^\s*(\w+)\s*(.*)$/s.exec(text);
  if (!match) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  for (const param of (match[2] as string).matchAll(PARAMETER)) {
    const value = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : (param[3] ?? '');
    params[(param[1] as string).toLowerCase()] = value;
  }
  return { scheme, params };
}
