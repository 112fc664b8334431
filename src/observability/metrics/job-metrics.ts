import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The metrics of batch job runs (docs/jobs.md), declared once and registered twice: on serve's
 * registry, where scheduled runs add to them, and on a registry of each run's own, which is what
 * that run pushes to the Pushgateway (so that a push carries exactly that run). Named after
 * Stash's restic_session_* metrics; labelled by `action` (gc, scrub, backup, restore, prune), not
 * `job`, which Prometheus and the Pushgateway use for themselves.
 */
export function declareJobMetrics(registry: Registry) {
  const registers = [registry];
  return {
    success: new Gauge({
      name: 'porthole_job_success',
      help: '1 when the last run of the job succeeded, else 0.',
      labelNames: ['action'] as const,
      registers,
    }),
    fail: new Gauge({
      name: 'porthole_job_fail',
      help: '1 when the last run of the job failed (or found corruption), else 0.',
      labelNames: ['action'] as const,
      registers,
    }),
    lastRun: new Gauge({
      name: 'porthole_job_last_run_timestamp_seconds',
      help: 'When the last run of the job ended, in Unix seconds.',
      labelNames: ['action'] as const,
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'porthole_job_last_success_timestamp_seconds',
      help: 'When the last successful run of the job ended, in Unix seconds.',
      labelNames: ['action'] as const,
      registers,
    }),
    duration: new Gauge({
      name: 'porthole_job_duration_seconds',
      help: 'How long the last run of the job took, start to end.',
      labelNames: ['action'] as const,
      registers,
    }),
    repositoryDuration: new Gauge({
      name: 'porthole_job_repository_duration_seconds',
      help: 'How long the last backup or restore spent on each repository (repository label bounded like the per-repository metrics).',
      labelNames: ['action', 'repository'] as const,
      registers,
    }),
    items: new Counter({
      name: 'porthole_job_items_total',
      help: 'Blobs and manifests a job examined, removed, copied, found corrupt or repaired.',
      labelNames: ['action', 'kind', 'outcome'] as const,
      registers,
    }),
    bytes: new Counter({
      name: 'porthole_job_bytes_total',
      help: 'Bytes a job freed, read or wrote.',
      labelNames: ['action', 'outcome'] as const,
      registers,
    }),
  };
}

export type JobMetrics = ReturnType<typeof declareJobMetrics>;
