import type { RegistryStore } from '../../storage/types.js';
import type { Metrics } from './catalogue.js';
import type { RepoLabels } from './repo-labels.js';

/**
 * Recomputes the gauges that need a walk of the store, every reporting interval (never on a
 * scrape, so /metrics stays fast with 10,000 repositories). Kept in minimal mode too: they are
 * not per-request updates. (Cache gauges are cheap and read at scrape time, in the catalogue.)
 */
export class StorageGauges {
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: RegistryStore,
    private readonly metrics: Metrics,
    private readonly repos: RepoLabels,
  ) {}

  /** One recomputation; overlapping calls share the one in progress. */
  refresh(): Promise<void> {
    this.running ??= this.recompute().finally(() => (this.running = undefined));
    return this.running;
  }

  private async recompute(): Promise<void> {
    const started = performance.now();
    const stats = await this.store.stats();
    const { metrics } = this;
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
    metrics.storageScanTimestamp.set(Date.now() / 1000);
  }
}
