import type { Registry } from 'prom-client';
import type { MetricsConfig } from '../../config/schema.js';
import type { CacheStats } from '../../storage/types.js';
import { buildInfo } from '../build-info.js';
import { createMetricsRegistry, type Metrics } from './catalogue.js';
import { MetricsRecorder } from './recorder.js';
import { RepoLabels } from './repo-labels.js';

export type MetricsMode = 'full' | 'minimal';

export interface Telemetry {
  mode: MetricsMode;
  registry: Registry;
  metrics: Metrics;
  recorder: MetricsRecorder;
  repoLabels: RepoLabels;
  /** Labels every metric carries: `replica` where several replicas are told apart, else none. */
  everyMetric: Record<string, string>;
}

/**
 * Metrics exist in both modes (minimal mode keeps its counters too, for the snapshot); what
 * differs is whether per-request collection is always on (full) or switched on by scrapes.
 */
export function createTelemetry(settings: MetricsConfig, cacheStats: () => CacheStats, replica?: string): Telemetry {
  const mode: MetricsMode = settings.enable ? 'full' : 'minimal';
  // The recorder needs the metrics and the in-flight gauge reads the recorder: the gauge is
  // only read at scrape time, long after both exist.
  let recorder: MetricsRecorder | undefined;
  const { registry, metrics } = createMetricsRegistry({ cacheStats, requestsInFlight: () => recorder?.requestsInFlight ?? { read: 0, write: 0 } });
  const everyMetric: Record<string, string> = replica === undefined ? {} : { replica };
  registry.setDefaultLabels(everyMetric);
  const repoLabels = new RepoLabels(settings.maxRepoLabels);
  // Users are bounded like repositories (a label per user up to the same maximum, then _other).
  recorder = new MetricsRecorder(metrics, repoLabels, mode === 'full', new RepoLabels(settings.maxRepoLabels));
  const info = buildInfo();
  metrics.info.set({ version: info.version, commit: info.commit, node_version: info.nodeVersion, mode }, 1);
  return { mode, registry, metrics, recorder, repoLabels, everyMetric };
}
