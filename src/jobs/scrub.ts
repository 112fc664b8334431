import type { PortholeConfig } from '../config/schema.js';
import type { Job, JobFields, JobReport, JobWork } from './job.js';
import type { JobTally } from './job-tally.js';
import { hasherFor, type ContentHasher } from './scrub/content-hasher.js';
import { takeInventory, type Inventory } from './scrub/inventory.js';
import { settleQuarantined } from './scrub/repair.js';
import { ScrubPass } from './scrub/scrub-pass.js';

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * What a run did (docs/jobs.md): items examined (read to the end and hashed) by kind, bytes read,
 * corrupt items (by kind too), those removed by the repair, those skipped because they were
 * removed while the scrub ran, and whether it examined everything it had listed.
 */
function summaryOf(tally: JobTally, repair: boolean, complete: boolean): JobFields {
  const both = (outcome: string): number => tally.itemCount('blob', outcome) + tally.itemCount('manifest', outcome);
  return {
    repair,
    complete,
    blobs: tally.itemCount('blob', 'examined'),
    manifests: tally.itemCount('manifest', 'examined'),
    bytes: tally.byteCount('read'),
    corrupt: both('corrupt'),
    corruptBlobs: tally.itemCount('blob', 'corrupt'),
    corruptManifests: tally.itemCount('manifest', 'corrupt'),
    repaired: both('repaired'),
    skipped: both('skipped'),
  };
}

/** Repairs that a killed scrub left half-done: their blobs are still aside, answering 404. */
async function settleLeftovers(work: JobWork, inventory: Inventory, hasher: ContentHasher): Promise<void> {
  for (const digest of inventory.quarantined) {
    const { outcome } = await settleQuarantined(work.driver, hasher, digest);
    work.log.warn({ digest: digest.value, outcome }, `finished a repair an earlier scrub left half-done: ${digest.value} ${outcome === 'whole' ? 'was whole and is back' : 'is removed'}`);
  }
}

async function scrub(work: JobWork, root: string, repair: boolean): Promise<JobReport> {
  const hasher = hasherFor(work.driver, root);
  const inventory = await takeInventory(work.store, work.driver, work.signal);
  const manifests = inventory.items.filter((item) => item.kind === 'manifest').length;
  work.log.info(
    { blobs: inventory.items.length - manifests, manifests, totalBytes: inventory.bytes, repositories: inventory.repositories.length },
    `scrub: ${inventory.items.length} items (${mebibytes(inventory.bytes)}) to hash`,
  );
  work.progress.total(inventory.items.length, inventory.bytes);
  if (!work.signal.aborted) await settleLeftovers(work, inventory, hasher);
  const pass = new ScrubPass(work, inventory, hasher, repair);
  const complete = !work.signal.aborted && (await pass.run());
  if (!complete) work.log.warn({ examined: pass.examined, items: inventory.items.length }, `scrub stopped before the end: ${pass.examined} of ${inventory.items.length} items examined`);
  const summary = summaryOf(work.tally, repair, complete);
  // A run cut short counts as failed: a scrub that never gets to the end must not look clean.
  return { failed: summary.corrupt !== 0 || !complete, summary };
}

/**
 * `scrub`: re-hashes every stored blob and manifest (manifests are stored as blobs) and reports
 * each whose bytes do not match its digest; with jobs.scrub.repair (--repair), removes each
 * corrupt one so that it can be pushed, or fetched through the cache, again. Reads while the
 * registry serves: what is removed meanwhile is skipped, and uploads are never in blobs/ before
 * they are complete and verified.
 */
export function scrubJob(config: PortholeConfig): Job {
  const { repair } = config.jobs.scrub;
  const root = config.storage.filesystem.rootDirectory;
  return {
    action: 'scrub',
    settings: { repair },
    run: (work) => scrub(work, root, repair),
  };
}
