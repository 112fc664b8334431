import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps the exporter's heap near what it holds. A collection allocates far more than it keeps (a
 * response, headers and promises per tag) and V8, sized for the machine's memory, lets that
 * garbage grow the old space long before it collects it: at 10,000 tags the heap swung up to
 * 135 MB for some 40 MB that live, and RSS followed. So the exporter checks its heap every few
 * hundred requests and runs a full collection when it has grown by more than a margin over
 * what the last one left; at most one every few seconds' worth of requests, a few milliseconds each.
 * V8 exposes gc() only behind a flag: the flag is set, the function taken from a fresh context,
 * and the flag cleared again.
 */
function gcFunction(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

const gc = gcFunction();
/** Garbage allowed over what the last full collection left. */
const MARGIN_BYTES = 24 * 1024 * 1024;
/** Requests between two looks at the heap. */
const CHECK_EVERY = 256;

let baseline = 0;
let calls = 0;

/** A full collection now; what it leaves becomes the baseline. */
export function compactHeap(): void {
  if (!gc) return;
  gc();
  baseline = getHeapStatistics().used_heap_size;
}

/** Called once per request: a full collection when the heap grew by more than the margin since the last. */
export function compactHeapIfGrown(): void {
  calls += 1;
  if (!gc || calls % CHECK_EVERY !== 0) return;
  if (getHeapStatistics().used_heap_size > baseline + MARGIN_BYTES) compactHeap();
}
