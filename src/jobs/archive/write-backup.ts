import type { Readable } from 'node:stream';
import { MEDIA_TYPES } from '../../core/media-types.js';
import type { LocalCache } from '../../storage/local-cache.js';
import type { JobProgress } from '../progress.js';
import type { ArchiveWriter } from './archive-writer.js';
import type { BackupPlan, PlannedBlob } from './backup-plan.js';
import { blobEntryName, INDEX_FILE, LAYOUT_FILE, LAYOUT_VERSION } from './oci-layout.js';
import { PrefetchingReader, type ByteRange } from './prefetching-reader.js';

/**
 * Blobs are read in ranges of this size, this many at once (the one being written included):
 * enough reads in flight to keep a cold disk busy, 16 MiB held at most.
 */
const RANGE_BYTES = 4 * 1024 * 1024;
const RANGES_IN_FLIGHT = 4;

export interface WrittenBackup {
  /** Bytes of the manifests and blobs copied. */
  contentBytes: number;
  /** Seconds spent copying each repository's blobs (each blob charged to the first repository that reached it). */
  seconds: Map<string, number>;
}

function stopped(): Error {
  return new Error('the backup was stopped (porthole is shutting down); the partial archive was removed');
}

/**
 * Writes a plan as an OCI image layout: `oci-layout` and `index.json` first, then every manifest,
 * then every other blob. That order lets a restore know, by the time the large blobs stream past,
 * where each belongs, so that it loads them in one pass (see archive-load.ts).
 */
export async function writeBackup(plan: BackupPlan, store: LocalCache, writer: ArchiveWriter, progress: JobProgress, signal: AbortSignal): Promise<WrittenBackup> {
  const seconds = new Map<string, number>();
  let contentBytes = 0;
  await writer.addBytes(LAYOUT_FILE, Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })));
  await writer.addBytes(INDEX_FILE, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: plan.entries })));
  for (const manifest of plan.manifests.values()) {
    if (signal.aborted) throw stopped();
    await writer.addBytes(blobEntryName(manifest.digest), manifest.bytes);
    contentBytes += manifest.bytes.length;
    progress.advance(1, manifest.bytes.length);
  }
  const blobs = [...plan.blobs.values()];
  const reader = new PrefetchingReader(
    blobs.map((blob) => ({ size: blob.size, open: (range: ByteRange) => openRange(store, blob, range) })),
    { rangeBytes: RANGE_BYTES, inFlight: RANGES_IN_FLIGHT },
  );
  try {
    for (const [index, blob] of blobs.entries()) {
      if (signal.aborted) throw stopped();
      const started = performance.now();
      await copyBlob(blob, reader.stream(index), writer, progress, signal);
      contentBytes += blob.size;
      progress.advance(1, 0);
      seconds.set(blob.repo, (seconds.get(blob.repo) ?? 0) + (performance.now() - started) / 1000);
    }
  } finally {
    reader.close();
  }
  return { contentBytes, seconds };
}

function vanished(blob: PlannedBlob): Error {
  return new Error(`blob ${blob.digest.value} of ${blob.repo} was removed during the backup (by a delete or gc); the partial archive was removed, run the backup again`);
}

/** A range of a planned blob, from the store (so a blob unlinked since the plan is gone). */
async function openRange(store: LocalCache, blob: PlannedBlob, range: ByteRange): Promise<Readable> {
  const content = await store.openBlob(blob.repo, blob.digest, () => range);
  if (!content) throw vanished(blob);
  if (content.size !== blob.size) {
    content.stream.destroy();
    throw new Error(`blob ${blob.digest.value} of ${blob.repo} changed size during the backup (${blob.size} to ${content.size} bytes)`);
  }
  return content.stream;
}

/** Streams one blob into the archive; a blob gone since the plan fails the backup. */
async function copyBlob(blob: PlannedBlob, source: Readable, writer: ArchiveWriter, progress: JobProgress, signal: AbortSignal): Promise<void> {
  const onAbort = (): void => void source.destroy(stopped());
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await writer.addStream(blobEntryName(blob.digest), blob.size, source, (bytes) => progress.advance(0, bytes));
  } catch (err) {
    if (signal.aborted) throw stopped();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw vanished(blob);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
