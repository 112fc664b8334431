import { newHash, type Digest } from '../../core/digest.js';
import { ArchiveError } from './archive-error.js';

/**
 * The chunks of an archive entry that claims to be blob `digest` of `size` bytes, hashed as they
 * pass: the last one is followed by an ArchiveError when the content is not what its name says,
 * so whoever consumes them (an upload session, a buffer) fails before taking it as that blob.
 */
export async function* verifiedChunks(body: AsyncIterable<Buffer>, digest: Digest, size: number, onChunk?: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  const hash = newHash(digest.algorithm);
  let received = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    received += chunk.length;
    onChunk?.(chunk);
    yield chunk;
  }
  if (received !== size) throw new ArchiveError(`blob ${digest.value} in the archive has ${received} bytes, not the ${size} its tar header says (truncated archive?)`);
  const actual = hash.digest('hex');
  if (actual !== digest.hex) throw new ArchiveError(`blob ${digest.value} in the archive does not match its digest (its content hashes to ${digest.algorithm}:${actual}): the archive is corrupt`);
}

/** Hashes an entry through to its end without keeping it (content that is not restored is still checked). */
export async function verifyOnly(body: AsyncIterable<Buffer>, digest: Digest, size: number, onChunk?: (chunk: Buffer) => void): Promise<void> {
  for await (const chunk of verifiedChunks(body, digest, size, onChunk)) void chunk;
}
