import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { challenge } from '../auth/challenge.js';
import { isRegistryError, RegistryError } from '../core/errors.js';
import { pathOf } from '../http/request-url.js';
import type { ManagementAuth } from '../management/management-auth.js';
import { writeError } from '../registry/error-writer.js';
import type { Asset, UiAssets } from './ui-assets.js';

/** Where the dashboard is served. */
export const UI_PREFIX = '/ui';

/**
 * Scripts, styles, images and API calls from porthole itself only: nothing inline, no other
 * origin (no CDN), no framing.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface UiRoutesOptions {
  assets: UiAssets;
  auth: ManagementAuth;
  /**
   * The Basic realm to challenge a browser with when the registry's own challenge is a Bearer one
   * (auth.token beside auth.htpasswd): a browser can answer only Basic. Undefined without htpasswd users.
   */
  basicRealm: string | undefined;
}

function accepts(request: FastifyRequest, encoding: string): boolean {
  const header = request.headers['accept-encoding'];
  return typeof header === 'string' && header.split(',').some((part) => part.trim().split(';')[0]?.trim() === encoding);
}

function send(request: FastifyRequest, reply: FastifyReply, file: Asset, cacheControl: string): FastifyReply {
  reply
    .header('content-type', file.contentType)
    .header('cache-control', cacheControl)
    .header('etag', file.etag)
    .header('vary', 'Accept-Encoding')
    .header('x-content-type-options', 'nosniff');
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  if (accepts(request, 'gzip')) return reply.code(200).header('content-encoding', 'gzip').send(file.gzipped);
  return reply.code(200).send(file.body);
}

/**
 * The dashboard's routes: GET /ui/ (the page), /ui/assets/<version>/<file> (its scripts, styles and
 * uPlot, immutable under a path that changes with their content), and /ui redirected to /ui/.
 * Everything is behind the management API's auth (the same users, limits and audit).
 */
export async function uiRoutes(scope: FastifyInstance, options: UiRoutesOptions): Promise<void> {
  const { assets, auth, basicRealm } = options;
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  scope.setErrorHandler((err, request, reply) => writeError(err, request, reply));

  const admit = async (request: FastifyRequest): Promise<void> => {
    try {
      await auth.admit(request);
    } catch (err) {
      // A browser cannot follow a Bearer challenge: ask it for the htpasswd login the gate also takes.
      const offered = isRegistryError(err) ? err.headers['www-authenticate'] : undefined;
      if (basicRealm !== undefined && isRegistryError(err) && err.status === 401 && offered?.startsWith('Bearer') === true) {
        throw new RegistryError('UNAUTHORIZED', err.message, undefined, { headers: { 'www-authenticate': challenge('Basic', basicRealm) } });
      }
      throw err;
    }
  };

  scope.get(UI_PREFIX, async (request, reply) => {
    await admit(request);
    return reply.code(308).header('location', `${UI_PREFIX}/`).header('cache-control', 'no-store').send();
  });
  scope.get(`${UI_PREFIX}/`, async (request, reply) => {
    await admit(request);
    // Revalidated on every load (cheap: 304), so a new porthole's page is seen at once; private: behind auth.
    return send(request, reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('referrer-policy', 'no-referrer'), assets.page, 'private, no-cache');
  });
  const assetPrefix = `${UI_PREFIX}/assets/`;
  scope.get(`${assetPrefix}*`, async (request, reply) => {
    await admit(request);
    const rest = pathOf(request.url).slice(assetPrefix.length);
    const slash = rest.indexOf('/');
    const version = rest.slice(0, slash);
    const file = slash < 0 ? undefined : assets.files.get(rest.slice(slash + 1));
    if (file === undefined) throw new RegistryError('UNSUPPORTED', `no dashboard file at ${pathOf(request.url).slice(0, 200)}`, undefined, { status: 404 });
    // An older page asking for an asset of another version gets today's, not cached for long.
    const cacheControl = version === assets.version ? 'private, max-age=31536000, immutable' : 'private, no-cache';
    return send(request, reply, file, cacheControl);
  });
}
