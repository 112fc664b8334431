import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { UploadProgress } from '../local-cache.js';

/**
 * Bytes `range` of a download, for a driver that cannot follow an object while it is written
 * (an object store shows nothing of it before it is whole): the stream waits until the blob is
 * verified and committed, then reads it from its home; it fails with the download.
 */
export function readWhenCommitted(progress: UploadProgress, open: () => Readable): Readable {
  const out = new PassThrough();
  void (async () => {
    for (;;) {
      const failure = progress.failure();
      if (failure) throw failure;
      if (progress.committed()) break;
      await progress.changed();
    }
    await pipeline(open(), out);
  })().catch((err: unknown) => out.destroy(err as Error));
  return out;
}
