import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Tells V8 early that upload chunks are garbage. Each ~64 KiB chunk node reads from a socket is a
 * fresh ArrayBuffer that dies as soon as it is hashed and written, but V8 frees such buffers only
 * at a scavenge, and scavenges follow the (small) JavaScript allocation, not these bytes. Long
 * before one came, the buffers' memory counted as external pressure and V8 ran a full
 * mark-compact of the heap every ~20 MiB uploaded: measured, a third of porthole's CPU time for
 * a 200 MiB upload went to collection, and its parallel marking threads took CPU from the
 * clients on the same machine. A scavenge every 4 MiB instead costs well under a millisecond (it
 * touches only live young objects): measured over four 200 MiB uploads, 1–3 full collections
 * instead of 34–40, and the marking threads' CPU time gone. (Every 8 MiB was no better than
 * none: chunks still held by the writer's two 1 MiB batches survive into the old generation.)
 */
const BYTES_PER_SCAVENGE = 4 * 1024 * 1024;

type Collect = (options: { type: 'minor' }) => void;

/**
 * V8's own collector, reached through a fresh context: one made after --expose-gc has a `gc` of
 * its own, which collects this isolate's heap. Found on the first upload, not at import, so
 * that importing this module changes no V8 flag; null when V8 refuses.
 */
function scavenger(): Collect | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Collect;
  } catch {
    return null;
  }
}

let collect: Collect | null | undefined;
let sinceLast = 0;

/** Counts bytes of short-lived buffers just dropped; collects the young generation every few MiB. */
export function droppedShortLived(bytes: number): void {
  sinceLast += bytes;
  if (sinceLast < BYTES_PER_SCAVENGE) return;
  sinceLast = 0;
  collect ??= scavenger();
  collect?.({ type: 'minor' });
}
