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
 * After an estimate that took T, the next waits at least this many T from its end: on a storage so
 * large that planning takes longer than the scan interval, planning still leaves the disk idle
 * most of the time (at most a fifth of it busy with estimates).
 */
const REST_FACTOR = 4;

/**
 * The bytes a garbage collection would free now (the summary's `garbageBytes`, dtr's garbage
 * size): gc's own planning (gc-plan.ts) in dry-run mode, which reads and changes nothing. It
 * walks every manifest of the store, so it is never run for a request: it runs in the background
 * after a storage scan ends (so no more often than the scan), never two at once (a scan that ends
 * while one runs starts none), and with a rest after each in proportion to how long it took.
 */
export class GarbageEstimate {
  private last: { bytes: number; computedAtMs: number } | undefined;
  private running: Promise<void> | undefined;
  private failing = false;
  /** When the next estimate may start (ms since the epoch). */
  private restUntilMs = 0;

  constructor(private readonly deps: GarbageEstimateDeps) {}

  /** Bytes a gc would free, as of the last plan that ran to its end; null before the first. */
  get bytes(): number | null {
    return this.last?.bytes ?? null;
  }

  /**
   * Starts a plan unless one is running or the last one's rest is not over; resolves when the one
   * running (or started) ends. Never rejects: failures are logged.
   */
  refresh(): Promise<void> {
    if (this.running === undefined && Date.now() < this.restUntilMs) return Promise.resolve();
    this.running ??= this.compute().finally(() => (this.running = undefined));
    return this.running;
  }

  private async compute(): Promise<void> {
    const { store, rules, log, signal } = this.deps;
    if (signal.aborted) return;
    const started = Date.now();
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
    } finally {
      const ended = Date.now();
      this.restUntilMs = ended + REST_FACTOR * (ended - started);
    }
  }
}
