import { SingleBar } from 'cli-progress';
import type { PortholeLogger } from '../observability/logger.js';

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

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

interface Counts {
  phase: string;
  items: number;
  totalItems: number;
  bytes: number;
  totalBytes: number;
  startedAt: number;
}

/** Counts of a phase that starts now. */
function freshCounts(phase: string): Counts {
  return { phase, items: 0, totalItems: 0, bytes: 0, totalBytes: 0, startedAt: Date.now() };
}

function rateAndEta(counts: Counts, now: number): { rate: string; eta: string } {
  const seconds = Math.max((now - counts.startedAt) / 1000, 0.001);
  const byBytes = counts.totalBytes > 0;
  const done = byBytes ? counts.bytes : counts.items;
  const total = byBytes ? counts.totalBytes : counts.totalItems;
  const perSecond = done / seconds;
  const rate = byBytes ? `${mebibytes(perSecond)}/s` : `${perSecond.toFixed(0)} items/s`;
  const eta = total > done && perSecond > 0 ? `${Math.ceil((total - done) / perSecond)}s` : '-';
  return { rate, eta };
}

/**
 * A bar on the terminal (cli-progress, on stderr, so stdout keeps only the result): items and
 * bytes done out of the total, rate and ETA.
 */
function terminalProgress(action: string, stream: NodeJS.WriteStream): JobProgress {
  const counts = freshCounts(action);
  const bar = new SingleBar({
    stream,
    format: '{phase} [{bar}] {percentage}% | {itemsDone}/{itemsTotal} items | {bytesDone} of {bytesTotal} | {rate} | ETA {remaining}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    fps: 5,
  });
  let started = false;
  // The bar fills by bytes when the job knows their total (a phase may know only bytes, or items
  // of very different sizes), else by items; its ETA likewise (cli-progress's own {eta} counts
  // only what fills the bar, so it is not used).
  const byBytes = (): boolean => counts.totalBytes > 0;
  const payload = () => {
    const { rate, eta } = rateAndEta(counts, Date.now());
    return { phase: counts.phase, itemsDone: counts.items, itemsTotal: counts.totalItems, bytesDone: mebibytes(counts.bytes), bytesTotal: mebibytes(counts.totalBytes), rate, remaining: eta };
  };
  const draw = (): void => {
    const [done, total] = byBytes() ? [counts.bytes, counts.totalBytes] : [counts.items, counts.totalItems];
    if (!started) {
      started = true;
      bar.start(total, done, payload());
      return;
    }
    bar.setTotal(total);
    bar.update(done, payload());
  };
  return {
    total(items, bytes = 0) {
      counts.totalItems = items;
      counts.totalBytes = bytes;
      draw();
    },
    advance(items, bytes = 0) {
      counts.items += items;
      counts.bytes += bytes;
      draw();
    },
    phase(name) {
      if (started) bar.stop();
      started = false;
      Object.assign(counts, freshCounts(`${action} ${name}`));
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

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

/** Progress for a run: a bar when stderr is a terminal (CLI runs), else a log line every `intervalMs`. */
export function createProgress(action: string, log: PortholeLogger, options: { terminal: boolean; intervalMs?: number }): JobProgress {
  if (options.terminal && process.stderr.isTTY) return terminalProgress(action, process.stderr);
  return loggedProgress(log, options.intervalMs ?? 10_000);
}
