import { Counter, Gauge, Registry } from 'prom-client';
import type { CollectionResult } from './collector.js';
import type { ManifestCache } from './manifest-cache.js';
import { jobCounts, lastRuns, type PortholeFigures } from './porthole-extras.js';
import type { ProbeStep } from './probe.js';
import type { RegistryClient } from './registry-client.js';
import { boundRepositories, OTHER_REPOSITORIES } from './repository-figures.js';

const MANIFEST_CLASSES = ['image', 'index', 'artifact'] as const;
const PROBE_STEPS: readonly ProbeStep[] = ['ping', 'manifest', 'blob'];

/** Both outcomes exist from the start (at 0), so that rate() and increase() see the first failure. */
function withOutcomes(counter: Counter<'outcome'>): Counter<'outcome'> {
  counter.inc({ outcome: 'success' }, 0);
  counter.inc({ outcome: 'failure' }, 0);
  return counter;
}

/**
 * Every metric of `porthole-exporter api`, declared once on the exporter's own registry (no
 * default process metrics). Gauges hold the last collection's result; a scrape only reads them.
 */
export function declareApiMetrics(registry: Registry, portholeRegistry: Registry) {
  const registers = [registry];
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
  // On a registry of their own, rendered only while the target is porthole: prom-client always
  // renders an unlabelled gauge (as 0), and these must be absent for any other registry.
  const portholeGauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers: [portholeRegistry] });
  return {
    up: gauge('oci_registry_up', '1 when the last collection of the registry succeeded, 0 when it failed.'),
    scrapeDuration: gauge('oci_registry_scrape_duration_seconds', 'How long the last collection of the registry took, successful or not (dtr_scrape_latency).'),
    lastSuccess: gauge('oci_registry_last_success_timestamp_seconds', 'Unix time of the end of the last successful collection; 0 before any.'),
    collections: withOutcomes(new Counter({ name: 'oci_registry_collections_total', help: 'Collections of the registry, by outcome (success or failure).', labelNames: ['outcome'] as const, registers })),
    repositories: gauge('oci_registry_repositories', 'Repositories in the registry catalog.'),
    tags: gauge('oci_registry_tags', 'Tags of all repositories.'),
    repositoryTags: gauge('oci_registry_repository_tags', 'Tags of a repository; the repositories beyond --max-repositories are summed as repository="_other".', ['repository'] as const),
    repositorySize: gauge(
      'oci_registry_repository_size_bytes',
      'Bytes of the distinct manifests, configs and layers that the tags of a repository reach (each digest counted once per repository); the repositories beyond --max-repositories are summed as repository="_other".',
      ['repository'] as const,
    ),
    manifests: gauge('oci_registry_manifests', 'Distinct manifests reached from tags (index children included), counted once per repository, by media_type: image, index (image index or manifest list) or artifact.', ['media_type'] as const),
    probeDuration: gauge('oci_registry_probe_duration_seconds', "How long each step of the last collection's synthetic pull took: ping (GET /v2/), manifest (GET of one manifest), blob (HEAD of one blob it references).", ['step'] as const),
    probeSuccess: gauge('oci_registry_probe_success', "1 when the step of the last collection's synthetic pull succeeded, 0 when it failed.", ['step'] as const),
    // porthole's management API (absent for any other registry)
    storedBytes: portholeGauge('oci_registry_stored_bytes', "Bytes of blobs and manifests in porthole's storage (GET /api/v1/summary)."),
    garbageBytes: portholeGauge('oci_registry_garbage_bytes', 'Bytes a garbage collection of porthole would free now (dtr_tablereplica_garbage_bytes).'),
    blobs: portholeGauge('oci_registry_blobs', "Blobs (layers and configs) in porthole's storage."),
    uploads: portholeGauge('oci_registry_uploads_in_progress', 'Blob uploads porthole has in progress.'),
    uptime: portholeGauge('oci_registry_target_uptime_seconds', 'Seconds since the porthole process that answered started.'),
    targetInfo: portholeGauge('oci_registry_target_info', 'Always 1: the version, mode (hosted or cache) and replica id of the porthole process that answered.', ['version', 'mode', 'replica'] as const),
    replicas: portholeGauge('oci_registry_replicas', 'porthole replicas sharing the storage, by health (dtr_server_health_count).', ['health'] as const),
    replicaHealthy: portholeGauge('oci_registry_replica_healthy', '1 when the replica has a recent heartbeat, 0 when not.', ['replica'] as const),
    replicaInFlight: portholeGauge('oci_registry_replica_in_flight_requests', 'Requests the replica was serving at its last heartbeat.', ['replica'] as const),
    replicaHeartbeatAge: portholeGauge('oci_registry_replica_heartbeat_age_seconds', "Seconds since the replica's last heartbeat, when the exporter read it.", ['replica'] as const),
    jobs: portholeGauge('oci_registry_jobs', 'Job runs among the last --job-count, by action and outcome (dtr_job_total).', ['action', 'status'] as const),
    jobLastRun: portholeGauge('oci_registry_job_last_run_timestamp_seconds', 'Unix time the most recent run of the action (among the last --job-count) ended.', ['action'] as const),
  };
}

export type ApiMetrics = ReturnType<typeof declareApiMetrics>;

/** The exporter's own figures: its build, its cache and what it asked of the registry. */
export function declareSelfMetrics(registry: Registry, version: string, cache: ManifestCache, client: RegistryClient): void {
  const registers = [registry];
  new Gauge({ name: 'oci_registry_exporter_build_info', help: 'Always 1: the version of porthole-exporter.', labelNames: ['version'] as const, registers }).set({ version }, 1);
  new Gauge({
    name: 'oci_registry_exporter_cached_manifests',
    help: 'Manifests the exporter keeps (kind, size and references only) so as not to fetch them again.',
    registers,
    collect() {
      this.set(cache.size);
    },
  });
  new Counter({
    name: 'oci_registry_exporter_requests_total',
    help: 'HTTP requests the exporter sent the registry (token requests included).',
    registers,
    collect() {
      this.reset();
      this.inc(client.counts.requests);
    },
  });
  new Counter({
    name: 'oci_registry_exporter_manifest_fetches_total',
    help: 'Manifests the exporter fetched (GET) for collection, the synthetic probe excluded: a manifest is fetched once, when its digest is new.',
    registers,
    collect() {
      this.reset();
      this.inc(client.counts.manifestGets);
    },
  });
}

/** Sets every figure of a successful collection at once (one synchronous block: a scrape sees all or nothing of it). */
export function applyCollection(metrics: ApiMetrics, result: CollectionResult, maxRepositories: number, seconds: number): void {
  metrics.up.set(1);
  metrics.scrapeDuration.set(seconds);
  metrics.lastSuccess.set(Date.now() / 1000);
  metrics.collections.inc({ outcome: 'success' });
  metrics.repositories.set(result.repositories);
  metrics.tags.set(result.tags);
  const { labelled, other } = boundRepositories(result.figures, maxRepositories);
  metrics.repositoryTags.reset();
  metrics.repositorySize.reset();
  for (const figure of labelled) {
    metrics.repositoryTags.set({ repository: figure.name }, figure.tags);
    metrics.repositorySize.set({ repository: figure.name }, figure.sizeBytes);
  }
  if (other) {
    metrics.repositoryTags.set({ repository: OTHER_REPOSITORIES }, other.tags);
    metrics.repositorySize.set({ repository: OTHER_REPOSITORIES }, other.sizeBytes);
  }
  for (const kind of MANIFEST_CLASSES) metrics.manifests.set({ media_type: kind }, result.manifests[kind]);
  metrics.probeDuration.reset();
  metrics.probeSuccess.reset();
  for (const step of PROBE_STEPS) {
    const outcome = result.probe[step];
    if (!outcome) continue;
    metrics.probeDuration.set({ step }, outcome.seconds);
    metrics.probeSuccess.set({ step }, outcome.ok ? 1 : 0);
  }
  applyPorthole(metrics, result.porthole);
}

/**
 * A failed collection: up 0, its duration, and the ping step failed. The registry's figures stay
 * those of the last success (oci_registry_last_success_timestamp_seconds says how old they are).
 */
export function applyFailure(metrics: ApiMetrics, seconds: number, pingSeconds: number | undefined): void {
  metrics.up.set(0);
  metrics.scrapeDuration.set(seconds);
  metrics.collections.inc({ outcome: 'failure' });
  if (pingSeconds !== undefined) {
    metrics.probeDuration.reset();
    metrics.probeSuccess.reset();
    metrics.probeDuration.set({ step: 'ping' }, pingSeconds);
    metrics.probeSuccess.set({ step: 'ping' }, 0);
  }
}

const PORTHOLE_GAUGES = ['storedBytes', 'garbageBytes', 'blobs', 'uploads', 'uptime', 'targetInfo', 'replicas', 'replicaHealthy', 'replicaInFlight', 'replicaHeartbeatAge', 'jobs', 'jobLastRun'] as const;

function applyPorthole(metrics: ApiMetrics, porthole: PortholeFigures | undefined): void {
  for (const name of PORTHOLE_GAUGES) metrics[name].reset();
  if (!porthole) return;
  const { summary, replicas, jobs, readAt } = porthole;
  metrics.storedBytes.set(summary.bytesStored);
  if (summary.garbageBytes !== null && summary.garbageBytes !== undefined) metrics.garbageBytes.set(summary.garbageBytes);
  metrics.blobs.set(summary.blobs);
  metrics.uploads.set(summary.uploadsInProgress);
  metrics.uptime.set(summary.uptimeSeconds);
  metrics.targetInfo.set({ version: summary.version, mode: summary.mode, replica: summary.replicaId }, 1);
  if (replicas) {
    const healthy = replicas.filter((replica) => replica.healthy).length;
    metrics.replicas.set({ health: 'healthy' }, healthy);
    metrics.replicas.set({ health: 'unhealthy' }, replicas.length - healthy);
    for (const replica of replicas) {
      metrics.replicaHealthy.set({ replica: replica.id }, replica.healthy ? 1 : 0);
      if (typeof replica.inFlight === 'number') metrics.replicaInFlight.set({ replica: replica.id }, replica.inFlight);
      const beat = Date.parse(replica.lastHeartbeat);
      if (!Number.isNaN(beat)) metrics.replicaHeartbeatAge.set({ replica: replica.id }, Math.max(0, (readAt - beat) / 1000));
    }
  }
  if (jobs) {
    for (const [action, byStatus] of jobCounts(jobs)) for (const [status, count] of byStatus) metrics.jobs.set({ action, status }, count);
    for (const [action, seconds] of lastRuns(jobs)) metrics.jobLastRun.set({ action }, seconds);
  }
}
