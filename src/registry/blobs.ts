import { RegistryError } from '../core/errors.js';
import { parseDigest } from '../core/digest.js';
import { resolveReadRange, type ReadRange } from '../core/ranges.js';
import { requireDeletion, type Resource } from './context.js';

function blobUnknown(name: string, digest: string): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in ${name}`, { digest });
}

/** GET/HEAD/DELETE /v2/<name>/blobs/<digest>. */
export const blobResource: Resource = {
  async GET(ctx, route, request, reply) {
    const digest = parseDigest(route.reference ?? '');
    // Straight from the storage (storage.s3.redirect), as distribution answers: a client sends
    // its Range there too.
    const location = ctx.redirectBlobs ? await ctx.store.blobLocation(route.name, digest) : undefined;
    if (location !== undefined) return reply.code(307).header('location', location).header('docker-content-digest', digest.value).header('content-length', 0).send();
    let range = { kind: 'full' } as ReadRange;
    const content = await ctx.store.openBlob(route.name, digest, (size) => {
      range = resolveReadRange(request.headers.range, size);
      if (range.kind === 'partial') return range.range;
      // A whole blob is read as the range 0..size-1 too: a stream that knows where to stop ends
      // with its last bytes, while an open-ended one waits for one more read to find the end of
      // the file, long enough for a client that has all it asked for to hang up before the
      // answer is complete.
      return size > 0 ? { start: 0, end: size - 1 } : undefined;
    });
    if (!content) throw blobUnknown(route.name, digest.value);
    if (content.provenance) request.pullProvenance = content.provenance;
    reply
      .header('content-type', 'application/octet-stream')
      .header('docker-content-digest', digest.value)
      .header('etag', `"${digest.value}"`)
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'max-age=31536000');
    if (range.kind === 'partial') {
      const { start, end } = range.range;
      reply.code(206).header('content-range', `bytes ${start}-${end}/${content.size}`).header('content-length', end - start + 1);
    } else {
      reply.code(200).header('content-length', content.size);
    }
    return reply.send(content.stream);
  },

  async HEAD(ctx, route, _request, reply) {
    const digest = parseDigest(route.reference ?? '');
    const info = await ctx.store.statBlob(route.name, digest);
    if (!info) throw blobUnknown(route.name, digest.value);
    reply
      .code(200)
      .header('content-type', 'application/octet-stream')
      .header('content-length', info.size)
      .header('docker-content-digest', digest.value)
      .header('etag', `"${digest.value}"`)
      .header('accept-ranges', 'bytes');
    return reply.send();
  },

  async DELETE(ctx, route, _request, reply) {
    requireDeletion(ctx);
    const digest = parseDigest(route.reference ?? '');
    if (!(await ctx.store.deleteBlob(route.name, digest))) throw blobUnknown(route.name, digest.value);
    return reply.code(202).header('content-length', 0).send();
  },
};
