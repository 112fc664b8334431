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
  pattern: RegExp;
}

/** Order matters: the upload shapes must be tried before the generic blob shape. */
const SHAPES: RouteShape[] = [
  { kind: 'uploads', template: '/v2/:name/blobs/uploads/', pattern: /^(.+)\/blobs\/uploads\/?$/ },
  { kind: 'upload', template: '/v2/:name/blobs/uploads/:id', pattern: /^(.+)\/blobs\/uploads\/([^/]+)$/ },
  { kind: 'blob', template: '/v2/:name/blobs/:digest', pattern: /^(.+)\/blobs\/([^/]+)$/ },
  { kind: 'manifest', template: '/v2/:name/manifests/:reference', pattern: /^(.+)\/manifests\/([^/]+)$/ },
  { kind: 'tags', template: '/v2/:name/tags/list', pattern: /^(.+)\/tags\/list$/ },
  { kind: 'referrers', template: '/v2/:name/referrers/:digest', pattern: /^(.+)\/referrers\/([^/]+)$/ },
];

function decode(part: string): string {
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
    const match = shape.pattern.exec(rest);
    if (!match) continue;
    const route: MatchedRoute = { kind: shape.kind, template: shape.template, name: decode(match[1] as string) };
    if (match[2] !== undefined) route.reference = decode(match[2]);
    return route;
  }
  return undefined;
}
