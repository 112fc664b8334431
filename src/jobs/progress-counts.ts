/** What a run's progress reports count, shared by the terminal bar and the log lines (progress.ts). */
export function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export interface Counts {
  phase: string;
  items: number;
  totalItems: number;
  bytes: number;
  totalBytes: number;
  startedAt: number;
}

/** Counts of a phase that starts now. */
export function freshCounts(phase: string): Counts {
  return { phase, items: 0, totalItems: 0, bytes: 0, totalBytes: 0, startedAt: Date.now() };
}

export function rateAndEta(counts: Counts, now: number): { rate: string; eta: string } {
  const seconds = Math.max((now - counts.startedAt) / 1000, 0.001);
  const byBytes = counts.totalBytes > 0;
  const done = byBytes ? counts.bytes : counts.items;
  const total = byBytes ? counts.totalBytes : counts.totalItems;
  const perSecond = done / seconds;
  const rate = byBytes ? `${mebibytes(perSecond)}/s` : `${perSecond.toFixed(0)} items/s`;
  const eta = total > done && perSecond > 0 ? `${Math.ceil((total - done) / perSecond)}s` : '-';
  return { rate, eta };
}
