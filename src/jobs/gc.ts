import { durationMs } from '../config/durations.js';
import type { PortholeConfig } from '../config/schema.js';
import { USE_MARK_EVERY_MS } from '../storage/image-store/parking.js';
import { planCollection, type GcContext, type GcPlan, type GcRules } from './gc-plan.js';
import { sweepCollection } from './gc-sweep.js';
import type { Job, JobFields, JobWork } from './job.js';

/**
 * What a gc run reports (its end log line, the CLI's JSON line, its audit detail and record):
 * - dryRun, untagged, grace: the settings it ran with;
 * - repositories: repositories examined;
 * - manifests: untagged manifests removed (in a dry run: that would be);
 * - links: layer links removed from repositories whose manifests no longer reference them;
 * - blobs: stored contents (blobs, and the bytes of removed manifests) freed;
 * - bytes: the bytes they took;
 * - complete: false when the run was stopped (serve shutting down) before its end.
 */
export interface GcSummary extends JobFields {
  dryRun: boolean;
  untagged: boolean;
  grace: string;
  repositories: number;
  manifests: number;
  links: number;
  blobs: number;
  bytes: number;
  complete: boolean;
}

/**
 * `gc`: removes what nothing references. Blob data that no manifest of any repository needs, the
 * layer links of a repository that none of its manifests needs, and with `untagged` the manifests
 * that no tag, kept index or kept subject keeps (then what they alone needed). Nothing used within
 * the grace period goes: a push in progress has its blobs (uploaded, mounted, or found by HEAD)
 * before its manifest. It runs while the registry serves (gc-sweep.ts says how that stays safe).
 */
export function gcJob(config: PortholeConfig, options: { dryRun: boolean }): Job {
  const { grace, untagged } = config.jobs.gc;
  const rules: GcRules = { graceMs: durationMs(grace), untagged, dryRun: options.dryRun };
  return {
    action: 'gc',
    settings: { untagged, grace, dryRun: options.dryRun },
    run: async (work) => ({ summary: await collect(work, rules, grace) }),
  };
}

async function collect(work: JobWork, rules: GcRules, grace: string): Promise<GcSummary> {
  const { store, tally, progress, log, signal } = work;
  if (rules.graceMs < 2 * USE_MARK_EVERY_MS && !rules.dryRun) {
    log.warn(
      { grace, useMarkSeconds: USE_MARK_EVERY_MS / 1000 },
      `gc: a grace of ${grace} is shorter than twice the interval at which uses are marked (${USE_MARK_EVERY_MS / 1000}s): a push in progress may lose blobs it found with HEAD; use it only while nothing pushes`,
    );
  }
  const context: GcContext = { store, rules, log, signal, progress };
  const plan = await planCollection(context);
  tally.items('manifest', 'examined', plan.examined.manifests);
  tally.items('blob', 'examined', plan.examined.blobs);
  const summary: GcSummary = { dryRun: rules.dryRun, untagged: rules.untagged, grace, repositories: plan.examined.repositories, manifests: 0, links: 0, blobs: 0, bytes: 0, complete: plan.complete };
  if (!plan.complete) return summary;
  return rules.dryRun ? reportPlan(work, plan, summary) : carryOut(work, context, plan, summary);
}

function reportPlan(work: JobWork, plan: GcPlan, summary: GcSummary): GcSummary {
  summary.manifests = plan.repositories.reduce((sum, repository) => sum + repository.manifests.length, 0);
  summary.links = plan.repositories.reduce((sum, repository) => sum + repository.links.length, 0);
  summary.blobs = plan.blobs.length;
  summary.bytes = plan.blobs.reduce((sum, blob) => sum + blob.size, 0);
  work.tally.items('manifest', 'would_remove', summary.manifests);
  work.tally.items('blob', 'would_remove', summary.blobs);
  work.tally.bytes('would_free', summary.bytes);
  return summary;
}

async function carryOut(work: JobWork, context: GcContext, plan: GcPlan, summary: GcSummary): Promise<GcSummary> {
  const swept = await sweepCollection(context, plan);
  summary.manifests = swept.manifests;
  summary.links = swept.links;
  summary.blobs = swept.blobs.length;
  summary.bytes = swept.blobs.reduce((sum, blob) => sum + blob.size, 0);
  summary.complete = swept.complete;
  work.tally.items('manifest', 'removed', summary.manifests);
  work.tally.items('blob', 'removed', summary.blobs);
  work.tally.bytes('freed', summary.bytes);
  return summary;
}
