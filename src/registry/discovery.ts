import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.js';
import { parseDigest } from '../core/digest.js';
import { MEDIA_TYPES } from '../core/media-types.js';
import type { RegistryContext, Resource } from './context.js';
import { paginate, sendPage } from './pagination.js';
import { queryOf } from '../http/request-url.js';

/** distribution's catalog page size when the client names none. */
export const DEFAULT_CATALOG_PAGE = 100;

/** GET /v2/<name>/tags/list. */
export const tagsResource: Resource = {
  async GET(ctx, route, request, reply) {
    const tags = await ctx.store.listTags(route.name);
    if (!tags) throw new RegistryError('NAME_UNKNOWN', `repository ${route.name} is not known to this registry`, { name: route.name });
    const page = paginate(tags, request, `/v2/${route.name}/tags/list`, undefined);
    return sendPage(reply, page, { name: route.name, tags: page.items });
  },
};

/** GET /v2/<name>/referrers/<digest>, with the artifactType filter. Never 404 (spec). */
export const referrersResource: Resource = {
  async GET(ctx, route, request, reply) {
    const subject = parseDigest(route.reference ?? '');
    const artifactType = queryOf(request).get('artifactType');
    let manifests = await ctx.store.listReferrers(route.name, subject);
    if (artifactType !== null) {
      manifests = manifests.filter((d) => d.artifactType === artifactType);
      reply.header('oci-filters-applied', 'artifactType');
    }
    const body = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests };
    // A Buffer, not a string: Fastify appends "; charset=utf-8" to string payloads, and the spec
    // wants exactly application/vnd.oci.image.index.v1+json here.
    return reply.code(200).header('content-type', MEDIA_TYPES.ociIndex).send(Buffer.from(JSON.stringify(body)));
  },
};

/** GET /v2/_catalog. */
export async function catalog(ctx: RegistryContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const all = await ctx.store.listRepositories();
  // With access control, only what the caller may pull (filtered before paging, so pages stay full).
  const mayPull = request.mayPull;
  const page = paginate(mayPull ? all.filter((repository) => mayPull(repository)) : all, request, '/v2/_catalog', DEFAULT_CATALOG_PAGE);
  await sendPage(reply, page, { repositories: page.items });
}
