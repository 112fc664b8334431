import type { FastifyReply } from 'fastify';
import { RegistryError } from '../core/errors.js';
import { MAX_MANIFEST_BYTES } from '../core/manifest.js';
import { assertValidTag } from '../core/names.js';
import { parseManifestReference, referenceText, tryParseManifestReference, type ManifestReference } from '../core/reference.js';
import type { StoredManifest } from '../storage/types.js';
import { requireDeletion, type RegistryContext, type Resource } from './context.js';
import { queryOf } from '../http/request-url.js';
import { readBodyLimited } from './request-helpers.js';

async function findManifest(ctx: RegistryContext, name: string, reference: ManifestReference): Promise<StoredManifest> {
  const stored = await ctx.store.getManifest(name, reference);
  if (stored) return stored;
  if (!(await ctx.store.repositoryExists(name))) {
    throw new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name });
  }
  throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${referenceText(reference)} is not in ${name}`, { reference: referenceText(reference) });
}

/** The reference of a GET, HEAD or DELETE; one that could name no manifest is simply not found. */
function lookupReference(text: string): ManifestReference {
  const reference = tryParseManifestReference(text);
  if (reference) return reference;
  const shown = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  throw new RegistryError('MANIFEST_UNKNOWN', `manifest "${shown}" is unknown: it is neither a valid tag nor a supported digest`, { reference: shown });
}

function manifestHeaders(reply: FastifyReply, stored: StoredManifest): FastifyReply {
  return reply
    .code(200)
    .header('content-type', stored.mediaType)
    .header('content-length', stored.bytes.length)
    .header('docker-content-digest', stored.digest.value)
    .header('etag', `"${stored.digest.value}"`);
}

/** Extra tags of `PUT /v2/<name>/manifests/<digest>?tag=a&tag=b` (spec end-7b). */
function extraTagsOf(reference: ManifestReference, query: URLSearchParams): string[] {
  const tags = query.getAll('tag');
  if (tags.length === 0) return [];
  if (reference.kind !== 'digest') {
    throw new RegistryError('MANIFEST_INVALID', 'tag query parameters are only accepted when pushing by digest');
  }
  tags.forEach(assertValidTag);
  return [...new Set(tags)];
}

/** GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>. */
export const manifestResource: Resource = {
  async GET(ctx, route, request, reply) {
    const stored = await findManifest(ctx, route.name, lookupReference(route.reference ?? ''));
    if (stored.provenance) request.pullProvenance = stored.provenance;
    return manifestHeaders(reply, stored).send(stored.bytes);
  },

  async HEAD(ctx, route, _request, reply) {
    const stored = await findManifest(ctx, route.name, lookupReference(route.reference ?? ''));
    return manifestHeaders(reply, stored).send();
  },

  async PUT(ctx, route, request, reply) {
    const reference = parseManifestReference(route.reference ?? '');
    const extraTags = extraTagsOf(reference, queryOf(request));
    const bytes = await readBodyLimited(
      request,
      MAX_MANIFEST_BYTES,
      () => new RegistryError('MANIFEST_INVALID', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, undefined, { status: 413 }),
    );
    const result = await ctx.store.putManifest(route.name, reference, bytes, request.headers['content-type'], extraTags);
    reply
      .code(201)
      .header('location', `/v2/${route.name}/manifests/${result.digest.value}`)
      .header('docker-content-digest', result.digest.value)
      .header('content-length', 0);
    if (result.subject) reply.header('oci-subject', result.subject.value);
    if (extraTags.length > 0) reply.header('oci-tag', extraTags.join(', '));
    return reply.send();
  },

  async DELETE(ctx, route, _request, reply) {
    requireDeletion(ctx);
    const reference = lookupReference(route.reference ?? '');
    const deleted =
      reference.kind === 'digest' ? await ctx.store.deleteManifest(route.name, reference.digest) : await ctx.store.deleteTag(route.name, reference.tag);
    if (!deleted) {
      await findManifest(ctx, route.name, reference);
      throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${referenceText(reference)} is not in ${route.name}`);
    }
    return reply.code(202).header('content-length', 0).send();
  },
};
