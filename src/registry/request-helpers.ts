import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { isClientAbort } from '../runtime/client-abort.js';
import { drainChunks } from '../runtime/drain-chunks.js';
import { RegistryError } from '../core/errors.js';
import { parseUploadContentRange } from '../core/ranges.js';
import type { ChunkOptions } from '../storage/types.js';
import '../http/request-context.js';

/** The Content-Length header as a number, undefined when absent, SIZE_INVALID when nonsense. */
export function contentLengthOf(request: FastifyRequest): number | undefined {
  const raw = request.headers['content-length'];
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new RegistryError('SIZE_INVALID', `Content-Length "${raw.slice(0, 40)}" is not a byte count`);
  return Number(raw);
}

/** True when the request carries a body (a non-zero length, or a chunked one). */
export function hasBody(request: FastifyRequest): boolean {
  const length = contentLengthOf(request);
  if (length !== undefined) return length > 0;
  return request.headers['transfer-encoding'] !== undefined;
}

/** What an upload chunk says about itself; a malformed Content-Range is the caller's 416. */
export function chunkOptionsOf(request: FastifyRequest, onBadRange: (header: string) => never): ChunkOptions {
  const options: ChunkOptions = {
    onChunk: (chunk) => {
      request.bytesIn = (request.bytesIn ?? 0) + chunk.length;
    },
  };
  const contentLength = contentLengthOf(request);
  if (contentLength !== undefined) options.contentLength = contentLength;
  const header = request.headers['content-range'];
  if (header !== undefined) {
    const range = parseUploadContentRange(header);
    if (!range) onBadRange(header);
    options.range = range;
  }
  return options;
}

/** Reads a whole body up to `limit` bytes; larger bodies are refused before or while reading. */
export async function readBodyLimited(request: FastifyRequest, limit: number, onTooLarge: () => RegistryError): Promise<Buffer> {
  const declared = contentLengthOf(request);
  if (declared !== undefined && declared > limit) throw onTooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    await drainChunks(bodyOf(request), (chunk) => {
      total += chunk.length;
      request.bytesIn = total;
      if (total > limit) throw onTooLarge();
      chunks.push(chunk);
    });
  } catch (err) {
    if (isClientAbort(err)) throw new RegistryError('SIZE_INVALID', `the request body ended after ${total} bytes, before all of it arrived`);
    throw err;
  }
  if (declared !== undefined && total !== declared) {
    throw new RegistryError('SIZE_INVALID', `Content-Length says ${declared} bytes but ${total} arrived`);
  }
  return Buffer.concat(chunks, total);
}

/**
 * The request body, for the store to read; `options.onChunk` (chunkOptionsOf) counts what it reads
 * into `request.bytesIn`. The store reads it chunk by chunk and treats an early end or a
 * hang-up as a failed read (drain-chunks.ts).
 */
export function bodyOf(request: FastifyRequest): Readable {
  request.bytesIn ??= 0;
  return request.raw;
}
