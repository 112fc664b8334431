import { planCollection, type GcRules } from '../jobs/gc-plan.js';
import { noProgress } from '../jobs/progress.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { LocalCache } from '../storage/local-cache.js';

export interface GarbageEstimateDeps {
  store: LocalCache;
  /** gc's own settings (jobs.gc: grace, untagged), so that the estimate is what a run would free. */
  rules: Omit<GcRules, 'dryRun'>;
  log: PortholeLogger;
  /** Aborted at shutdown: a plan in progress stops, and is not kept. */
  signal: AbortSignal;
}

/**
 * The bytes a garbage collection would free now (the summary's `garbageBytes`, dtr's garbage
 * size): gc's own planning (gc-plan.ts) in dry-run mode, which reads and changes nothing. It
 * walks every manifest of the store, so it is never run for a request: it runs in the background
 * after a storage scan ends (so no more often than the scan), and never two at once: a scan that
 * ends while one runs starts none.
 */
export class GarbageEstimate {
  private last: { bytes: number; computedAtMs: number } | undefined;
  private running: Promise<void> | undefined;
  private failing = false;

  constructor(private readonly deps: GarbageEstimateDeps) {}

  /** Bytes a gc would free, as of the last plan that ran to its end; null before the first. */
  get bytes(): number | null {
    return this.last?.bytes ?? null;
  }

  /** Starts a plan unless one is running; resolves when the one running (or started) ends. Never rejects: failures are logged. */
  refresh(): Promise<void> {
    this.running ??= this.compute().finally(() => (this.running = undefined));
    return this.running;
  }

  private async compute(): Promise<void> {
    const { store, rules, log, signal } = this.deps;
    if (signal.aborted) return;
    try {
      // gc's warnings (a manifest that cannot be read) are gc's to give when it runs, not every scan's.
      const plan = await planCollection({ store, rules: { ...rules, dryRun: true }, log: log.child({}, { level: 'error' }), signal, progress: noProgress });
      // A plan cut short by shutdown is no estimate.
      if (!plan.complete) return;
      this.last = { bytes: plan.blobs.reduce((sum, blob) => sum + blob.size, 0), computedAtMs: Date.now() };
      if (this.failing) log.info('the estimate of garbage bytes is computed again');
      this.failing = false;
    } catch (err) {
      // Logged once per outage, not once per scan.
      if (!this.failing) log.warn({ err }, 'the estimate of garbage bytes could not be computed; the summary keeps the last one');
      this.failing = true;
    }
  }
}
