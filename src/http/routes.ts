import { RegistryError } from '../core/errors.js';

/**
 * Matches /v2 paths. Repository names contain slashes, so the resource is found from the end of
 * the path (greedy name, fixed suffix), the way distribution's router does it. Every route has a
 * template used in logs and metrics, so that labels never carry names or digests.
 */
export type RouteKind =
  | 'base'
  | 'catalog'
  | 'manifest'
  | 'blob'
  | 'uploads'
  | 'upload'
  | 'tags'
  | 'referrers';

export interface MatchedRoute {
  kind: RouteKind;
  template: string;
  name?: string;
  /** Tag or digest (manifest), digest (blob, referrers), or session id (upload). */
  reference?: string;
}

interface RouteShape {
  kind: RouteKind;
  template: string;
  /** `rest` (the path after `/v2/`) split into name and reference, when it has this shape. */
  match(rest: string): [name: string, reference?: string] | undefined;
}

/**
 * `<name><marker><segment>`: the name is everything before the last `marker` (names contain
 * slashes, and the last one is the greedy match), the segment is non-empty and has no slash.
 * Found with lastIndexOf rather than a regular expression: every API request is matched, and
 * `^(.+)\/x\/([^/]+)$` walks the path back and forth once per shape tried.
 */
function nameThen(marker: string): RouteShape['match'] {
  return (rest) => {
    const at = rest.lastIndexOf(marker);
    if (at < 1) return undefined;
    const reference = rest.slice(at + marker.length);
    if (reference === '' || reference.includes('/')) return undefined;
    return [rest.slice(0, at), reference];
  };
}

/** `<name><suffix>`, the name non-empty. */
function nameWith(...suffixes: string[]): RouteShape['match'] {
  return (rest) => {
    for (const suffix of suffixes) {
      if (rest.length > suffix.length && rest.endsWith(suffix)) return [rest.slice(0, rest.length - suffix.length)];
    }
    return undefined;
  };
}

/** Order matters: the upload shapes must be tried before the generic blob shape. */
const SHAPES: RouteShape[] = [
  { kind: 'uploads', template: '/v2/:name/blobs/uploads/', match: nameWith('/blobs/uploads/', '/blobs/uploads') },
  { kind: 'upload', template: '/v2/:name/blobs/uploads/:id', match: nameThen('/blobs/uploads/') },
  { kind: 'blob', template: '/v2/:name/blobs/:digest', match: nameThen('/blobs/') },
  { kind: 'manifest', template: '/v2/:name/manifests/:reference', match: nameThen('/manifests/') },
  { kind: 'tags', template: '/v2/:name/tags/list', match: nameWith('/tags/list') },
  { kind: 'referrers', template: '/v2/:name/referrers/:digest', match: nameThen('/referrers/') },
];

function decode(part: string): string {
  // Most names and references have nothing encoded.
  if (!part.includes('%')) return part;
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RegistryError('NAME_INVALID', 'the request path has a malformed percent-encoding');
  }
}

/** Returns the route for a raw path under /v2, or undefined when no API resource has that shape. */
export function matchRoute(path: string): MatchedRoute | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base', template: '/v2/' };
  if (!path.startsWith('/v2/')) return undefined;
  const rest = path.slice('/v2/'.length);
  if (rest === '_catalog') return { kind: 'catalog', template: '/v2/_catalog' };
  for (const shape of SHAPES) {
    const match = shape.match(rest);
    if (!match) continue;
    const route: MatchedRoute = { kind: shape.kind, template: shape.template, name: decode(match[0]) };
    if (match[1] !== undefined) route.reference = decode(match[1]);
    return route;
  }
  return undefined;
}
