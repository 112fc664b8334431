import type { ProxyConfig } from '../config/proxy-schema.js';
import { pruneCache, pruneOptionsOf } from '../proxy/cache-pruner.js';
import { cachedRepositories } from '../proxy/namespaces.js';
import type { Job } from './job.js';

/**
 * `prune`: removes cached images nobody pulled (or that were cached) longer ago than
 * proxy.prune.olderThan from the pull-through cache's namespaces (cache-pruner.ts does the work).
 */
export function pruneJob(proxy: ProxyConfig): Job {
  const prune = proxy.prune;
  return {
    action: 'prune',
    settings: { olderThan: prune.olderThan, by: prune.by, dryRun: prune.dryRun },
    async run({ store, tally }) {
      const result = await pruneCache(store, cachedRepositories(proxy), pruneOptionsOf(prune));
      const outcome = result.dryRun ? 'would_remove' : 'removed';
      tally.items('manifest', outcome, result.manifests);
      tally.items('blob', outcome, result.blobs);
      tally.bytes(result.dryRun ? 'would_free' : 'freed', result.bytes);
      return { summary: { dryRun: result.dryRun, manifests: result.manifests, blobs: result.blobs, bytes: result.bytes, olderThan: prune.olderThan, by: prune.by } };
    },
  };
}
