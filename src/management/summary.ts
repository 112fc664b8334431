import { RegistryError } from '../core/errors.js';
import type { StorageGauges } from '../observability/metrics/storage-gauges.js';
import type { SummaryResponse } from './api-types.js';
import type { GarbageEstimate } from './garbage-estimate.js';

export interface SummaryDeps {
  /** The periodic storage scan of the metrics, whose last figures the summary shows. */
  gauges: StorageGauges;
  garbage: GarbageEstimate;
  startedAtMs: number;
  version: string;
  mode: SummaryResponse['mode'];
  replicaId: string;
}

/**
 * GET /api/v1/summary. The storage figures are those of the last storage scan (run every
 * extensions.metrics.reportingInterval for the metrics), never a walk per request; only before
 * the first scan has ended does a request wait, for the scan already running since start-up.
 */
export async function summary(deps: SummaryDeps): Promise<SummaryResponse> {
  const { gauges } = deps;
  if (gauges.lastScan === undefined) await gauges.inProgress?.catch(() => undefined);
  const scan = gauges.lastScan;
  if (scan === undefined) {
    throw new RegistryError('UNAVAILABLE', 'no storage scan has ended yet (the server log says why); the figures come with the next one, within extensions.metrics.reportingInterval');
  }
  const { stats } = scan;
  return {
    repositories: stats.repositories,
    tags: stats.tags,
    manifests: stats.manifests.count,
    blobs: stats.blobs.count,
    bytesStored: stats.blobs.bytes + stats.manifests.bytes,
    garbageBytes: deps.garbage.bytes,
    uploadsInProgress: stats.uploads,
    uptimeSeconds: Math.floor((Date.now() - deps.startedAtMs) / 1000),
    version: deps.version,
    mode: deps.mode,
    replicaId: deps.replicaId,
    computedAt: new Date(scan.computedAtMs).toISOString(),
  };
}
