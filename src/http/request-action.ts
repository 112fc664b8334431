import type { RouteKind } from './routes.js';

/**
 * What a request does, in the terms access control speaks (Docker's token scopes on a
 * repository: pull, push, delete; and the catalog). One map, used by the API's routing (which
 * names may fall back to the pull-through cache's default namespace), the audit log and spans,
 * and by access control when it comes.
 *
 * - `ping`: `GET /v2/`, the version check every client makes first;
 * - `catalog`: the list of repositories;
 * - `pull`: reading manifests, blobs, tags and referrers;
 * - `push`: anything about uploads (status included) and writing manifests;
 * - `delete`: deleting a manifest, a tag or a blob.
 */
export type RequestAction = 'ping' | 'catalog' | 'pull' | 'push' | 'delete';

/** The action of `method` on a route of `kind` (undefined for a path that is no API route). */
export function requestAction(method: string, kind: RouteKind | undefined): RequestAction {
  if (kind === 'base') return 'ping';
  if (kind === 'catalog') return 'catalog';
  if (kind === 'uploads' || kind === 'upload') return 'push';
  if (method === 'GET' || method === 'HEAD') return 'pull';
  return method === 'DELETE' ? 'delete' : 'push';
}

/**
 * How a request's name may be mapped onto storage by the pull-through cache: `pull` may fall back
 * to its default namespace when no hosted repository has the name; `other` never does. A pull of
 * a manifest, blob or tag list is a `pull`; a blob HEAD is not, since clients send it before
 * pushing a blob, to see whether it is there already.
 */
export type NameUse = 'pull' | 'other';

export function nameUse(method: string, kind: RouteKind | undefined): NameUse {
  if (requestAction(method, kind) !== 'pull') return 'other';
  return kind === 'manifest' || (method === 'GET' && (kind === 'blob' || kind === 'tags')) ? 'pull' : 'other';
}
