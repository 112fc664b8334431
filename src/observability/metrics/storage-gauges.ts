import { statfs } from 'node:fs/promises';
import type { RegistryStore, StorageStats } from '../../storage/types.js';
import type { Metrics } from './catalogue.js';
import type { RepoLabels } from './repo-labels.js';
import type { ScanShare, SharedScan } from './shared-scan.js';

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
    /** Replicas of one store share one walk (shared-scan.ts); absent: this process walks alone. */
    private readonly share?: ScanShare,
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

  /** Walks the store here. */
  private async walk(): Promise<SharedScan> {
    const started = performance.now();
    const stats = await this.store.stats();
    return { stats, computedAtMs: Date.now(), seconds: (performance.now() - started) / 1000 };
  }

  private async recompute(): Promise<void> {
    const [scan, space] = await Promise.all([this.share ? this.share.scan(() => this.walk()) : this.walk(), this.filesystemRoot === undefined ? undefined : statfs(this.filesystemRoot)]);
    // Another replica is walking the shared store: its figures come next interval.
    if (scan === undefined) return;
    const { stats, computedAtMs } = scan;
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
    metrics.storageScanDuration.set(scan.seconds);
    metrics.storageScanTimestamp.set(computedAtMs / 1000);
    this.last = { stats, computedAtMs };
    for (const listener of this.listeners) listener(this.last);
  }
}
