import { statfs } from 'node:fs/promises';
import type { RegistryStore, StorageStats } from '../../storage/types.js';
import type { Metrics } from './catalogue.js';
import type { RepoLabels } from './repo-labels.js';

/** The figures of one storage scan, and when it ended (ms since the epoch). */
export interface StorageScan {
  stats: StorageStats;
  computedAtMs: number;
}

/**
 * Recomputes the gauges that need a walk of the store, every reporting interval (never on a
 * scrape, so /metrics stays fast with 10,000 repositories). Kept in minimal mode too: they are
 * not per-request updates. (Cache gauges are cheap and read at scrape time, in the catalogue.)
 */
export class StorageGauges {
  private running: Promise<void> | undefined;
  private last: StorageScan | undefined;
  private readonly listeners: Array<(scan: StorageScan) => void> = [];

  constructor(
    private readonly store: RegistryStore,
    private readonly metrics: Metrics,
    private readonly repos: RepoLabels,
    /** The storage root on the local file system, whose free space and size are gauged too. */
    private readonly filesystemRoot?: string,
  ) {}

  /** One recomputation; overlapping calls share the one in progress. */
  refresh(): Promise<void> {
    this.running ??= this.recompute().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * The last scan's figures; undefined before the first ends. The management API's summary reads
   * these rather than walk the store per request.
   */
  get lastScan(): StorageScan | undefined {
    return this.last;
  }

  /** The scan in progress, if any: a reader with no figures yet waits for it rather than start one. */
  get inProgress(): Promise<void> | undefined {
    return this.running;
  }

  /** Hears of every scan that ends (the garbage estimate runs after it, so no more often than the scan). */
  onScan(listener: (scan: StorageScan) => void): void {
    this.listeners.push(listener);
  }

  private async recompute(): Promise<void> {
    const started = performance.now();
    const [stats, space] = await Promise.all([this.store.stats(), this.filesystemRoot === undefined ? undefined : statfs(this.filesystemRoot)]);
    const { metrics } = this;
    if (space !== undefined) {
      metrics.filesystemAvailable.set(space.bavail * space.bsize);
      metrics.filesystemSize.set(space.blocks * space.bsize);
    }
    metrics.storageBytes.set({ kind: 'blob' }, stats.blobs.bytes);
    metrics.storageBytes.set({ kind: 'manifest' }, stats.manifests.bytes);
    metrics.storageObjects.set({ kind: 'blob' }, stats.blobs.count);
    metrics.storageObjects.set({ kind: 'manifest' }, stats.manifests.count);
    metrics.storageObjects.set({ kind: 'repository' }, stats.repositories);
    metrics.storageObjects.set({ kind: 'tag' }, stats.tags);
    metrics.storageObjects.set({ kind: 'upload' }, stats.uploads);
    const byLabel = new Map<string, number>();
    for (const [repo, bytes] of stats.repositoryBytes) {
      const label = this.repos.label(repo);
      byLabel.set(label, (byLabel.get(label) ?? 0) + bytes);
    }
    // Reset first, so that a repository that is gone no longer reports its old size.
    metrics.repoStorageBytes.reset();
    for (const [label, bytes] of byLabel) metrics.repoStorageBytes.set({ repo: label }, bytes);
    metrics.storageScanDuration.set((performance.now() - started) / 1000);
    const computedAtMs = Date.now();
    metrics.storageScanTimestamp.set(computedAtMs / 1000);
    this.last = { stats, computedAtMs };
    for (const listener of this.listeners) listener(this.last);
  }
}
