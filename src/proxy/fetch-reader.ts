import { Readable } from 'node:stream';
import type { ImageStore } from '../storage/image-store/image-store.js';
import type { BlobFetch } from './blob-fetch.js';

function isMissingFile(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Bytes `start`..`end` of a blob that a BlobFetch is still downloading: read from the upload
 * session's file as far as it has been written, then wait for more; once the blob is committed,
 * the rest comes from the blob itself. Fails with the fetch's error if the download fails, so the
 * client sees a cut-off answer rather than a wrong blob. Each reader has its own file reads, so a
 * slow client holds up neither the download nor the other readers.
 */
export function readFollowingFetch(local: ImageStore, repo: string, fetch: BlobFetch, start: number, end: number): Readable {
  async function* follow(): AsyncGenerator<Buffer> {
    let position = start;
    while (position <= end) {
      if (fetch.state === 'failed') throw fetch.failure ?? new Error('the upstream download failed');
      if (fetch.state === 'committed') {
        const content = await local.openBlob(repo, fetch.digest, () => ({ start: position, end }));
        if (!content) throw new Error(`blob ${fetch.digest.value} vanished from ${repo} right after it was cached`);
        for await (const chunk of content.stream as AsyncIterable<Buffer>) yield chunk;
        return;
      }
      const last = Math.min(end, fetch.available - 1);
      const id = fetch.uploadId;
      if (last < position || id === undefined) {
        await fetch.changed();
        continue;
      }
      try {
        for await (const chunk of local.readUpload(id, { start: position, end: last }) as AsyncIterable<Buffer>) {
          position += chunk.length;
          yield chunk;
        }
      } catch (err) {
        // The session file moves into blobs/ when the blob is committed; wait for that news.
        if (!isMissingFile(err)) throw err;
        if (fetch.state === 'running') await fetch.changed();
      }
    }
  }
  return Readable.from(follow(), { objectMode: false });
}
