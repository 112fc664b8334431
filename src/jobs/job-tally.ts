import type { JobMetrics } from '../observability/metrics/job-metrics.js';
import type { JobAction } from './job.js';

/** What a job's items are. */
export type ItemKind = 'blob' | 'manifest' | 'tag' | 'repository';

/**
 * What a run counts as it goes (items by kind and outcome, bytes by outcome, time per repository),
 * kept by the run itself and written into metrics at its end: into the registry of its own that
 * it pushes, and into serve's when it ran there.
 */
export class JobTally {
  private readonly itemCounts = new Map<string, { kind: ItemKind; outcome: string; count: number }>();
  private readonly byteCounts = new Map<string, number>();
  private readonly repositorySeconds = new Map<string, number>();

  items(kind: ItemKind, outcome: string, count = 1): void {
    const key = `${kind} ${outcome}`;
    const entry = this.itemCounts.get(key) ?? { kind, outcome, count: 0 };
    entry.count += count;
    this.itemCounts.set(key, entry);
  }

  bytes(outcome: string, count: number): void {
    this.byteCounts.set(outcome, (this.byteCounts.get(outcome) ?? 0) + count);
  }

  /** Time spent on one repository (backup, restore). */
  repository(repo: string, seconds: number): void {
    this.repositorySeconds.set(repo, (this.repositorySeconds.get(repo) ?? 0) + seconds);
  }

  /** Count of items of a kind with an outcome, so far. */
  itemCount(kind: ItemKind, outcome: string): number {
    return this.itemCounts.get(`${kind} ${outcome}`)?.count ?? 0;
  }

  byteCount(outcome: string): number {
    return this.byteCounts.get(outcome) ?? 0;
  }

  /**
   * Adds this run to `metrics`. `repositoryLabel` bounds the repository label (serve's RepoLabels);
   * the run's own registry takes every repository of the run, which is one backup's worth.
   */
  writeInto(metrics: JobMetrics, action: JobAction, repositoryLabel: (repo: string) => string = (repo) => repo): void {
    for (const { kind, outcome, count } of this.itemCounts.values()) metrics.items.inc({ action, kind, outcome }, count);
    for (const [outcome, count] of this.byteCounts) metrics.bytes.inc({ action, outcome }, count);
    // Repositories past the label bound share one label: their times add up under it.
    const byLabel = new Map<string, number>();
    for (const [repo, seconds] of this.repositorySeconds) byLabel.set(repositoryLabel(repo), (byLabel.get(repositoryLabel(repo)) ?? 0) + seconds);
    for (const [repository, seconds] of byLabel) metrics.repositoryDuration.set({ action, repository }, seconds);
  }
}
