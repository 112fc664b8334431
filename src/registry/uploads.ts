import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDigestAlgorithm, parseDigest, tryParseDigest, type Digest } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { isValidName } from '../core/names.js';
import { uploadRangeHeader } from '../core/ranges.js';
import type { BlobInfo, UploadStatus } from '../storage/types.js';
import { type RegistryContext, type Resource } from './context.js';
import { queryOf } from '../http/request-url.js';
import { chunkOptionsOf, bodyOf, hasBody } from './request-helpers.js';

function uploadLocation(status: UploadStatus): string {
  return `/v2/${status.repo}/blobs/uploads/${status.id}`;
}

function answerInProgress(reply: FastifyReply, status: UploadStatus, code: 202 | 204): FastifyReply {
  return reply
    .code(code)
    .header('location', uploadLocation(status))
    .header('range', uploadRangeHeader(status.size))
    .header('docker-upload-uuid', status.id)
    .header('blob-upload-session-id', status.id)
    .header('content-length', 0)
    .send();
}

function answerCreated(reply: FastifyReply, name: string, blob: BlobInfo): FastifyReply {
  return reply
    .code(201)
    .header('location', `/v2/${name}/blobs/${blob.digest.value}`)
    .header('docker-content-digest', blob.digest.value)
    .header('content-length', 0)
    .send();
}

function uploadUnknown(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload session "${id.slice(0, 64)}" is unknown`);
}

/** A malformed Content-Range must be answered 416 with the session's current range (spec). */
async function chunkOptions(ctx: RegistryContext, name: string, id: string, request: FastifyRequest) {
  const status = await ctx.store.getUpload(name, id);
  if (!status) throw uploadUnknown(id);
  return chunkOptionsOf(request, (header) => {
    throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range "${header.slice(0, 60)}" is not of the form <start>-<end>`, undefined, {
      status: 416,
      headers: { range: uploadRangeHeader(status.size), location: uploadLocation(status) },
    });
  });
}

function requestedDigest(request: FastifyRequest): Digest {
  const values = queryOf(request).getAll('digest');
  if (values.length === 0) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required to complete an upload');
  // Several digests may be given (spec); all must be well formed, and the first is verified.
  const digests = values.map(parseDigest);
  return digests[0] as Digest;
}

/** POST /v2/<name>/blobs/uploads/ : start a session, mount, or take a whole blob at once. */
export const uploadsResource: Resource = {
  async POST(ctx, route, request, reply) {
    const query = queryOf(request);
    const mount = query.get('mount');
    const from = query.get('from');
    if (mount !== null) {
      const digest = tryParseDigest(mount);
      // Spec: a mount that cannot be done (bad arguments, blob not in `from`, or `from` not
      // pullable by the caller: access control said so) falls back to an upload.
      if (digest && from !== null && isValidName(from) && request.mountRefused !== true) {
        const mounted = await ctx.store.mountBlob(route.name, digest, from);
        if (mounted) return answerCreated(reply, route.name, mounted);
      }
    }
    const algorithmName = query.get('digest-algorithm') ?? 'sha256';
    if (!isDigestAlgorithm(algorithmName)) {
      throw new RegistryError('DIGEST_INVALID', `digest algorithm "${algorithmName.slice(0, 40)}" is not supported; use sha256 or sha512`);
    }
    const digestParam = query.get('digest');
    if (digestParam !== null && mount === null) {
      const digest = parseDigest(digestParam);
      // Checked before the session exists: a session the client never learns of must not be left behind.
      const options = chunkOptionsOf(request, () => {
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'a single-request upload takes no Content-Range');
      });
      const session = await ctx.store.startUpload(route.name, digest.algorithm, { oneShot: true });
      try {
        const blob = await ctx.store.finishUpload(route.name, session.id, digest, { body: bodyOf(request), options });
        return answerCreated(reply, route.name, blob);
      } catch (err) {
        await ctx.store.cancelUpload(route.name, session.id);
        throw err;
      }
    }
    const session = await ctx.store.startUpload(route.name, algorithmName);
    return answerInProgress(reply, session, 202);
  },
};

/** GET/PATCH/PUT/DELETE /v2/<name>/blobs/uploads/<id>. */
export const uploadResource: Resource = {
  async GET(ctx, route, _request, reply) {
    const id = route.reference ?? '';
    const status = await ctx.store.getUpload(route.name, id);
    if (!status) throw uploadUnknown(id);
    return answerInProgress(reply, status, 204);
  },

  async PATCH(ctx, route, request, reply) {
    const id = route.reference ?? '';
    const options = await chunkOptions(ctx, route.name, id, request);
    const status = await ctx.store.appendUpload(route.name, id, bodyOf(request), options);
    return answerInProgress(reply, status, 202);
  },

  async PUT(ctx, route, request, reply) {
    const id = route.reference ?? '';
    const digest = requestedDigest(request);
    // Without a final chunk the store alone decides: a retry of a PUT that completed is answered
    // 201 again, though its session is gone (completed-uploads.ts).
    const finalChunk = hasBody(request) ? { body: bodyOf(request), options: await chunkOptions(ctx, route.name, id, request) } : undefined;
    const blob = await ctx.store.finishUpload(route.name, id, digest, finalChunk);
    return answerCreated(reply, route.name, blob);
  },

  async DELETE(ctx, route, _request, reply) {
    const id = route.reference ?? '';
    if (!(await ctx.store.cancelUpload(route.name, id))) throw uploadUnknown(id);
    return reply.code(204).send();
  },
};
