import type { PortholeLogger } from '../../observability/logger.js';
import type { Collector } from './collector.js';
import { compactHeap } from './compact-heap.js';
import { applyCollection, applyFailure, type ApiMetrics } from './metrics.js';
import { RegistryRequestError } from './registry-client.js';

export interface LoopSettings {
  intervalMs: number;
  timeoutMs: number;
  maxRepositories: number;
  /** The registry's base URL, for log lines. */
  target: string;
}

/**
 * Collects in the background: once at start, then every interval (measured from the start of
 * the previous collection; one that overruns is followed at once by the next, never overlapped),
 * each bounded by the timeout. A scrape never waits on it. Whatever the registry does (down,
 * refusing, slow, 500, HTML, garbage) ends as a failed collection, never as an exit; the outage is
 * logged once at warn when it starts and once at info when it ends.
 */
export class CollectionLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: AbortController | undefined;
  private stopped = false;
  private state: 'unknown' | 'up' | 'down' = 'unknown';
  /** Whether the last successful collection found a porthole target (its gauges are then rendered). */
  porthole = false;
  /** Resolves when the current collection ends (for a clean stop). */
  private current: Promise<void> = Promise.resolve();

  constructor(
    private readonly collector: Collector,
    private readonly metrics: ApiMetrics,
    private readonly settings: LoopSettings,
    private readonly log: PortholeLogger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = performance.now();
      this.current = this.runOnce().finally(() => this.schedule(Math.max(0, this.settings.intervalMs - (performance.now() - started))));
    }, delayMs);
  }

  /** One collection; never rejects. */
  async runOnce(): Promise<void> {
    const controller = new AbortController();
    this.running = controller;
    const deadline = setTimeout(() => controller.abort(new Error(`collection timed out after ${this.settings.timeoutMs} ms`)), this.settings.timeoutMs);
    const started = performance.now();
    try {
      const result = await this.collector.collect(controller.signal);
      const seconds = (performance.now() - started) / 1000;
      applyCollection(this.metrics, result, this.settings.maxRepositories, seconds);
      this.porthole = result.porthole !== undefined;
      const memory = process.memoryUsage();
      const figures = {
        target: this.settings.target,
        seconds,
        repositories: result.repositories,
        tags: result.tags,
        manifestsFetched: result.manifestsFetched,
        porthole: this.porthole,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
      };
      if (this.state === 'down') this.log.info(figures, 'registry is reachable again; oci_registry_up 1');
      else if (this.state === 'unknown') this.log.info(figures, 'first collection done');
      else this.log.debug(figures, 'collection done');
      this.state = 'up';
    } catch (err) {
      const seconds = (performance.now() - started) / 1000;
      const ping = this.collector.lastPing;
      applyFailure(this.metrics, seconds, ping && !ping.ok ? ping.seconds : undefined);
      const reason = controller.signal.aborted ? 'timeout' : err instanceof RegistryRequestError ? err.reason : 'invalid';
      const message = controller.signal.aborted ? `the collection took longer than --timeout (${this.settings.timeoutMs} ms)` : (err as Error).message;
      if (this.stopped) return;
      if (this.state !== 'down') this.log.warn({ target: this.settings.target, reason, error: message }, 'registry unreachable; oci_registry_up 0 until a collection succeeds');
      else this.log.debug({ target: this.settings.target, reason, error: message }, 'registry still unreachable');
      this.state = 'down';
    } finally {
      clearTimeout(deadline);
      this.running = undefined;
      compactHeap();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.running?.abort(new Error('exporter stopping'));
    await this.current.catch(() => undefined);
  }
}
