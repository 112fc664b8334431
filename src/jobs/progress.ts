import type { PortholeLogger } from '../observability/logger.js';
import { freshCounts, rateAndEta } from './progress-counts.js';

/** How far a run is: items and bytes done out of a total (when the job knows it). */
export interface JobProgress {
  /** What the run (or its current phase) covers, once known. */
  total(items: number, bytes?: number): void;
  /** Work done since the last call. */
  advance(items: number, bytes?: number): void;
  /** A new phase (`marking`, `sweeping`): the counts start again. */
  phase(name: string): void;
  stop(): void;
}

export const noProgress: JobProgress = { total: () => undefined, advance: () => undefined, phase: () => undefined, stop: () => undefined };

/** A log line every `intervalMs` while there is progress, for runs without a terminal (serve, CI, cron). */
function loggedProgress(log: PortholeLogger, intervalMs: number): JobProgress {
  const counts = freshCounts('');
  let lastAt = Date.now();
  const maybeLog = (): void => {
    const now = Date.now();
    if (now - lastAt < intervalMs) return;
    lastAt = now;
    const { rate, eta } = rateAndEta(counts, now);
    log.info(
      { phase: counts.phase || undefined, items: counts.items, totalItems: counts.totalItems || undefined, bytes: counts.bytes, totalBytes: counts.totalBytes || undefined, rate, eta },
      'job progress',
    );
  };
  return {
    total(items, bytes = 0) {
      counts.totalItems = items;
      counts.totalBytes = bytes;
    },
    advance(items, bytes = 0) {
      counts.items += items;
      counts.bytes += bytes;
      maybeLog();
    },
    phase(name) {
      Object.assign(counts, freshCounts(name));
    },
    stop: () => undefined,
  };
}

/**
 * Progress for a run: a bar when stderr is a terminal (CLI runs), else a log line every
 * `intervalMs`. The bar's module (cli-progress, with readline) is imported only for a terminal:
 * serve never draws one, and would keep it in memory for nothing.
 */
export async function createProgress(action: string, log: PortholeLogger, options: { terminal: boolean; intervalMs?: number }): Promise<JobProgress> {
  if (options.terminal && process.stderr.isTTY) return (await import('./terminal-progress.js')).terminalProgress(action, process.stderr);
  return loggedProgress(log, options.intervalMs ?? 10_000);
}
