import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheSize, CacheStats } from '../../storage/types.js';
import { declareJobMetrics } from './job-metrics.js';
import { KeyedCounter, KeyedHistogram } from './keyed-metrics.js';
import { declareRuntimeMetrics } from './runtime-metrics.js';

/**
 * Every metric porthole exposes, declared once, on a Registry the app owns (never the global
 * one). Names follow porthole_<subsystem>_<what>_<unit>; counters end in _total. Labels are
 * bounded: routes are templates, repositories are capped by RepoLabels, codes are finite sets.
 * docs/metrics.md describes each one; a test checks that the two agree.
 */

/** Sub-millisecond to a minute: the whole-second buckets users complain about in zot are avoided. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** 100 B to 1 GiB, by powers of about 4. */
export const SIZE_BUCKETS = [100, 1_000, 10_000, 100_000, 1_000_000, 4_000_000, 16_000_000, 64_000_000, 256_000_000, 1_073_741_824];

/**
 * Remaining lifetime of client certificates: from expired (0) through half an hour, hours and days
 * to about a year, as Kubernetes' apiserver_client_certificate_expiration_seconds.
 */
export const CLIENT_CERTIFICATE_BUCKETS = [0, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 345600, 604800, 2592000, 7776000, 15552000, 31104000];

/** Live values that gauges read at scrape time (cheap, so no reporting interval is needed). */
export interface MetricSources {
  cacheStats(): CacheStats;
  /** Kept as plain numbers by the recorder: a gauge update per request is not free. */
  requestsInFlight(): Readonly<Record<'read' | 'write', number>>;
}

/** The `cache` label of each in-memory cache (label values are snake_case, field names are not). */
const CACHE_LABELS: Record<keyof CacheStats, string> = { manifest: 'manifest', tagList: 'tag_list', link: 'link' };

function cacheSizes(stats: CacheStats): Array<[string, CacheSize]> {
  return (Object.keys(CACHE_LABELS) as Array<keyof CacheStats>).map((key) => [CACHE_LABELS[key], stats[key]]);
}

export function createMetrics(registry: Registry, sources: MetricSources) {
  const registers = [registry];
  return {
    httpRequests: new KeyedCounter({
      name: 'porthole_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: ['method', 'route', 'code'] as const,
      registers,
    }),
    httpDuration: new KeyedHistogram({
      name: 'porthole_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being written, by method and route template.',
      labelNames: ['method', 'route'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    httpRequestSize: new KeyedHistogram({
      name: 'porthole_http_request_size_bytes',
      help: 'Request body bytes, by method and route template.',
      labelNames: ['method', 'route'] as const,
      buckets: SIZE_BUCKETS,
      registers,
    }),
    httpResponseSize: new KeyedHistogram({
      name: 'porthole_http_response_size_bytes',
      help: 'Response body bytes, by method and route template.',
      labelNames: ['method', 'route'] as const,
      buckets: SIZE_BUCKETS,
      registers,
    }),
    httpInFlight: new Gauge({
      name: 'porthole_http_requests_in_flight',
      help: 'Requests being handled now, by kind: read (GET, HEAD) or write.',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        const inFlight = sources.requestsInFlight();
        this.set({ kind: 'read' }, inFlight.read);
        this.set({ kind: 'write' }, inFlight.write);
      },
    }),
    apiErrors: new KeyedCounter({
      name: 'porthole_api_errors_total',
      help: 'API answers that were errors, by OCI error code.',
      labelNames: ['code'] as const,
      registers,
    }),
    pulls: new KeyedCounter({
      name: 'porthole_pulls_total',
      help: 'Successful manifest and blob downloads (GET), by type.',
      labelNames: ['type'] as const,
      registers,
    }),
    pullBytes: new KeyedCounter({
      name: 'porthole_pull_bytes_total',
      help: 'Bytes of manifests and blobs sent to clients, by type.',
      labelNames: ['type'] as const,
      registers,
    }),
    repoDownloads: new KeyedCounter({
      name: 'porthole_repo_downloads_total',
      help: 'Manifests downloaded (GET) per repository; repositories past maxRepoLabels count under repo="_other".',
      labelNames: ['repo'] as const,
      registers,
    }),
    repoUploads: new KeyedCounter({
      name: 'porthole_repo_uploads_total',
      help: 'Manifests pushed per repository; repositories past maxRepoLabels count under repo="_other".',
      labelNames: ['repo'] as const,
      registers,
    }),
    repoStorageBytes: new Gauge({
      name: 'porthole_repo_storage_bytes',
      help: 'Bytes of the blobs and manifests each repository references; repositories past maxRepoLabels are summed under repo="_other".',
      labelNames: ['repo'] as const,
      registers,
    }),
    storageBytes: new Gauge({
      name: 'porthole_storage_bytes',
      help: 'Bytes on disk, by kind: blob (layers and configs) or manifest.',
      labelNames: ['kind'] as const,
      registers,
    }),
    storageObjects: new Gauge({
      name: 'porthole_storage_objects',
      help: 'Objects in storage, by kind: blob, manifest, repository, tag or upload (sessions in progress).',
      labelNames: ['kind'] as const,
      registers,
    }),
    tracingSpansExported: new Counter({
      name: 'porthole_tracing_spans_exported_total',
      help: 'Spans the tracing collector accepted.',
      registers,
    }),
    tracingSpansDropped: new Counter({
      name: 'porthole_tracing_spans_dropped_total',
      help: 'Spans lost: the export queue was full, or the collector failed or timed out.',
      registers,
    }),
    storageFull: new Gauge({
      name: 'porthole_storage_full',
      help: '1 while storage has no room: from a write that failed with ENOSPC or EDQUOT until a write succeeds.',
      registers,
    }),
    storageScanDuration: new Gauge({
      name: 'porthole_storage_scan_duration_seconds',
      help: 'How long the last recomputation of the storage gauges took.',
      registers,
    }),
    filesystemAvailable: new Gauge({
      name: 'porthole_storage_filesystem_avail_bytes',
      help: 'Bytes free for porthole on the file system holding storage.filesystem.rootDirectory (statfs), recomputed with the storage gauges.',
      registers,
    }),
    filesystemSize: new Gauge({
      name: 'porthole_storage_filesystem_size_bytes',
      help: 'Size in bytes of the file system holding storage.filesystem.rootDirectory (statfs), recomputed with the storage gauges.',
      registers,
    }),
    storageScanTimestamp: new Gauge({
      name: 'porthole_storage_scan_timestamp_seconds',
      help: 'Unix time at which the storage gauges were last recomputed.',
      registers,
    }),
    cacheEntries: new Gauge({
      name: 'porthole_cache_entries',
      help: 'Entries held in an in-memory cache, by cache.',
      labelNames: ['cache'] as const,
      registers,
      collect() {
        for (const [cache, size] of cacheSizes(sources.cacheStats())) this.set({ cache }, size.entries);
      },
    }),
    cacheBytes: new Gauge({
      name: 'porthole_cache_bytes',
      help: 'Bytes held in an in-memory cache, by cache.',
      labelNames: ['cache'] as const,
      registers,
      collect() {
        for (const [cache, size] of cacheSizes(sources.cacheStats())) this.set({ cache }, size.bytes);
      },
    }),
    storageOperationDuration: new KeyedHistogram({
      name: 'porthole_storage_operation_duration_seconds',
      help: 'Time taken by storage operations, by operation.',
      labelNames: ['operation'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    storageOperationErrors: new KeyedCounter({
      name: 'porthole_storage_operation_errors_total',
      help: 'Storage operations that failed unexpectedly (not "not found"), by operation.',
      labelNames: ['operation'] as const,
      registers,
    }),
    lockWait: new KeyedHistogram({
      name: 'porthole_storage_lock_wait_seconds',
      help: 'Time spent waiting for a per-key storage lock (an upload session), by lock.',
      labelNames: ['lock'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    proxyPulls: new KeyedCounter({
      name: 'porthole_proxy_pulls_total',
      help: 'Manifests and blobs downloaded (GET) through the pull-through cache, by namespace, type and source: cache (it was cached) or upstream (fetched for this request).',
      labelNames: ['namespace', 'type', 'source'] as const,
      registers,
    }),
    upstreamRequests: new KeyedCounter({
      name: 'porthole_proxy_upstream_requests_total',
      help: 'Requests to upstream registries, by namespace and outcome (ok, not_found, denied, throttled, server_error, timeout, unreachable, broken).',
      labelNames: ['namespace', 'outcome'] as const,
      registers,
    }),
    upstreamDuration: new KeyedHistogram({
      name: 'porthole_proxy_upstream_request_duration_seconds',
      help: 'Time an upstream registry took to answer (to its response headers; a whole body for manifests), by namespace.',
      labelNames: ['namespace'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamBytes: new KeyedCounter({
      name: 'porthole_proxy_upstream_bytes_total',
      help: 'Bytes received from upstream registries, by namespace and type (manifest or blob).',
      labelNames: ['namespace', 'type'] as const,
      registers,
    }),
    upstreamUp: new Gauge({
      name: 'porthole_proxy_upstream_up',
      help: '1 while the upstream answers (its circuit is closed), 0 from a request that found it down, timed out or failed with a 5xx until it answers again; absent before the first request.',
      labelNames: ['namespace'] as const,
      registers,
    }),
    upstreamCircuitTransitions: new KeyedCounter({
      name: 'porthole_proxy_upstream_circuit_transitions_total',
      help: 'Changes of state of each upstream\'s circuit, by namespace and the state entered: open (requests stop: the upstream timed out, refused or failed with a 5xx), half_open (one probe request goes) or closed (it answered again).',
      labelNames: ['namespace', 'to'] as const,
      registers,
    }),
    /** Batch job runs inside serve (scheduled ones): see job-metrics.ts. */
    jobs: declareJobMetrics(registry),
    pushgatewayErrors: new Counter({
      name: 'porthole_pushgateway_push_errors_total',
      help: 'Pushes of job metrics the Pushgateway did not take (down, refused, timed out), by action.',
      labelNames: ['action'] as const,
      registers,
    }),
    tlsCertificateExpiry: new Gauge({
      name: 'porthole_tls_certificate_expiry_timestamp_seconds',
      help: 'Unix time at which the server\'s TLS certificate (http.tls.certificate) expires, by file; set at start-up and on each reload; absent without TLS.',
      labelNames: ['file'] as const,
      registers,
    }),
    tlsClientCertificateExpiration: new Histogram({
      name: 'porthole_tls_client_certificate_expiration_seconds',
      help: 'Remaining lifetime of the client certificates presented (mutual TLS), once per TLS connection; an expired one counts as 0 (apiserver_client_certificate_expiration_seconds).',
      buckets: CLIENT_CERTIFICATE_BUCKETS,
      registers,
    }),
    auditEvents: new KeyedCounter({
      name: 'porthole_audit_events_total',
      help: 'Events written to the audit log, by action and outcome (apiserver_audit_event_total); counted whether or not log.audit is set.',
      labelNames: ['action', 'outcome'] as const,
      registers,
    }),
    requestsByUser: new KeyedCounter({
      name: 'porthole_http_requests_by_user_total',
      help: 'Requests of authenticated users, by user (authenticated_user_requests); users past maxRepoLabels count under user="_other".',
      labelNames: ['user'] as const,
      registers,
    }),
    authAttempts: new KeyedCounter({
      name: 'porthole_auth_attempts_total',
      help: 'Requests that presented credentials, by method (basic, bearer) and outcome (success, failure, locked: refused unchecked after too many failures).',
      labelNames: ['method', 'outcome'] as const,
      registers,
    }),
    info: new Gauge({
      name: 'porthole_info',
      help: 'Always 1; the labels say which porthole this is and how its metrics are served.',
      labelNames: ['version', 'commit', 'node_version', 'mode'] as const,
      registers,
    }),
    collectionEnabled: new Gauge({
      name: 'porthole_metrics_collection_enabled',
      help: '1 while per-request metrics are collected; in minimal mode 0 until an exporter scrapes, and again after it stops.',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * prom-client's defaults include gauges named like counters (`..._total`), which
 * `promtool check metrics` rejects; the same facts stay available, by type, under the names
 * without the suffix (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources).
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Node's runtime and process metrics: prom-client's defaults, made lint-clean, and what they lack. */
function registerRuntimeMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  declareRuntimeMetrics(registry);
}

/** A registry with porthole's metrics and Node's runtime and process metrics. */
export function createMetricsRegistry(sources: MetricSources): { registry: Registry; metrics: Metrics } {
  const registry = new Registry();
  registerRuntimeMetrics(registry);
  return { registry, metrics: createMetrics(registry, sources) };
}
