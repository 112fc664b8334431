/**
 * The JSON of porthole's read-only management API (`/api/v1/`, docs/api.md): what porthole
 * serves and what porthole-exporter's API mode reads. One declaration for both sides.
 */

/** The path prefix of every management route. */
export const MANAGEMENT_PREFIX = '/api/v1';

/** `GET /api/v1/summary`. Storage figures are those of the last storage scan (`computedAt`). */
export interface SummaryResponse {
  repositories: number;
  tags: number;
  manifests: number;
  /** Layers and configs: every blob that is not a manifest. */
  blobs: number;
  /** Bytes of blobs and manifests in the storage. */
  bytesStored: number;
  /** Bytes a garbage collection run would free now (dtr's garbage size); null until first computed. */
  garbageBytes: number | null;
  uploadsInProgress: number;
  uptimeSeconds: number;
  version: string;
  /** hosted: a registry of its own; cache: a pull-through cache of an upstream. */
  mode: 'hosted' | 'cache';
  /** This process's id among the replicas on the storage (GET /api/v1/replicas). */
  replicaId: string;
  /** When the storage figures were computed (ISO 8601). */
  computedAt: string;
}

/** One porthole process on the storage, from the heartbeat it keeps there. */
export interface ReplicaRecord {
  id: string;
  /** host:port it serves on. */
  address: string;
  version: string;
  startedAt: string;
  /** Requests being served at the last heartbeat. */
  inFlight: number;
  lastHeartbeat: string;
  /** Whether its last heartbeat is recent (within three heartbeat intervals). */
  healthy: boolean;
}

/** `GET /api/v1/replicas`. */
export interface ReplicasResponse {
  replicas: ReplicaRecord[];
}

/** One run of a batch job (gc, scrub, backup, restore, prune), from serve's schedule or the CLI. */
export interface JobRunJson {
  action: string;
  trigger: string;
  startedAt: string;
  endedAt: string;
  seconds: number;
  outcome: 'success' | 'failure' | 'skipped';
  /** The run's figures (what it found, removed, wrote), as its end log line gives them. */
  summary: Record<string, string | number | boolean>;
  error?: string;
}

/** `GET /api/v1/jobs?limit=N`: newest first. */
export interface JobsResponse {
  jobs: JobRunJson[];
}

/** One repository, for `GET /api/v1/repositories?n=&last=` (paginated like the catalog, with a Link header). */
export interface RepositoryRecord {
  name: string;
  tags: number;
  /** Bytes of the distinct blobs and manifests its manifests reference. */
  sizeBytes: number;
  /** Last manifest push (ISO 8601), or null when unknown. */
  lastPush: string | null;
  /** Last manifest pull served by this process since it started (ISO 8601), or null. */
  lastPull: string | null;
}

export interface RepositoriesResponse {
  repositories: RepositoryRecord[];
}

/**
 * `GET /api/v1/series` (with `extensions.ui.enable`): a few figures sampled from porthole's own
 * metrics every `intervalSeconds`, the newest `capacity` samples, oldest first, as columns of
 * equal length (what a chart draws). Rates are per second over the interval that ends at `time`;
 * a figure is null where it cannot be known (see docs/api.md#get-apiv1series).
 */
export interface SeriesResponse {
  intervalSeconds: number;
  /** The most samples kept (the window is intervalSeconds x capacity). */
  capacity: number;
  /** The metrics mode: in minimal mode per-request figures exist only while an exporter scrapes. */
  mode: 'full' | 'minimal';
  /** Whether per-request metrics are being collected now. */
  collecting: boolean;
  series: {
    /** End of each interval, Unix seconds. */
    time: number[];
    /** Requests to the registry API (/v2) answered per second, and those answered 5xx. */
    requestsPerSecond: Array<number | null>;
    serverErrorsPerSecond: Array<number | null>;
    /** Latency percentiles of those requests, in seconds, from the histogram's buckets; null without requests. */
    latencyP50Seconds: Array<number | null>;
    latencyP90Seconds: Array<number | null>;
    latencyP99Seconds: Array<number | null>;
    /** Successful manifest and blob GETs, and manifest pushes, per second. */
    manifestPullsPerSecond: Array<number | null>;
    blobPullsPerSecond: Array<number | null>;
    pushesPerSecond: Array<number | null>;
    /** Pull-through cache: pulls served from the cache over all its pulls; null without any. */
    cacheHitRatio: Array<number | null>;
    /** Bytes of blobs and manifests in the storage, from the last storage scan; null before the first. */
    bytesStored: Array<number | null>;
  };
}
