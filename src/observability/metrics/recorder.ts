import type { UpstreamObserver } from '../../proxy/upstream.js';
import type { Metrics } from './catalogue.js';
import type { RepoLabels } from './repo-labels.js';
import { traceExemplarLabels, type TraceExemplar } from './trace-exemplar.js';

/** A request's kind for the in-flight gauge. */
export type RequestKind = 'read' | 'write';

export function requestKind(method: string): RequestKind {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

export interface RequestObservation {
  method: string;
  route: string;
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
  errorCode?: string;
  /** The authenticated user; absent for anonymous requests. */
  user?: string;
  /**
   * The trace of a sampled request: it becomes the exemplar of the request-duration bucket the
   * request falls in (OpenMetrics scrapes show it). Absent for requests not traced or not sampled.
   */
  exemplar?: TraceExemplar;
}

/** The series of one method and route: its key and labels, and those of each status seen. */
class RouteSeries {
  readonly key: string;
  readonly labels: { method: string; route: string };
  private readonly byStatus = new Map<number, { key: string; labels: { method: string; route: string; code: string } }>();

  constructor(method: string, route: string) {
    this.key = `${method} ${route}`;
    this.labels = { method, route };
  }

  statusKey(status: number): { key: string; labels: { method: string; route: string; code: string } } {
    let entry = this.byStatus.get(status);
    if (!entry) this.byStatus.set(status, (entry = { key: `${this.key} ${status}`, labels: { ...this.labels, code: String(status) } }));
    return entry;
  }
}

/**
 * The one way porthole code updates per-request metrics. In minimal mode collection is off until
 * an exporter scrapes and goes off again when it stops: while off, these updates are dropped
 * (cheaply: one flag check), as zot's minimal build does. Gauges computed from storage are not
 * per-request and are always kept. Updates go through keyed metrics (keyed-metrics.ts): the key
 * is the label values joined by a character no label value contains (a space).
 */
export class MetricsRecorder {
  private enabled: boolean;
  /** RouteSeries by method, then route: both come from small fixed sets (unrouted paths share one route). */
  private readonly seriesByMethod = new Map<string, Map<string, RouteSeries>>();
  /** Requests in flight by kind: reads (GET, HEAD) and writes (everything else), as apiserver_current_inflight_requests splits them. */
  private readonly inFlight: Record<RequestKind, number> = { read: 0, write: 0 };

  constructor(
    readonly metrics: Metrics,
    private readonly repos: RepoLabels,
    collecting: boolean,
    private readonly users: RepoLabels,
  ) {
    this.enabled = collecting;
    metrics.collectionEnabled.set(collecting ? 1 : 0);
  }

  get collecting(): boolean {
    return this.enabled;
  }

  get requestsInFlight(): Readonly<Record<RequestKind, number>> {
    return this.inFlight;
  }

  setCollecting(on: boolean): void {
    this.enabled = on;
    this.metrics.collectionEnabled.set(on ? 1 : 0);
  }

  /** Counts a request in flight; undefined when collection is off (it is then not counted). */
  requestStarted(method: string): RequestKind | undefined {
    if (!this.enabled) return undefined;
    const kind = requestKind(method);
    this.inFlight[kind] += 1;
    return kind;
  }

  /**
   * The keys and labels of a method and route, made once: every request would otherwise build
   * (and hash) new key strings and label objects for the same few series.
   */
  private routeSeries(method: string, route: string): RouteSeries {
    let byRoute = this.seriesByMethod.get(method);
    if (!byRoute) this.seriesByMethod.set(method, (byRoute = new Map()));
    let series = byRoute.get(route);
    if (!series) byRoute.set(route, (series = new RouteSeries(method, route)));
    return series;
  }

  /** `counted` is what requestStarted answered, so in-flight stays balanced across a toggle. */
  requestFinished(counted: RequestKind | undefined, observation: RequestObservation): void {
    if (counted !== undefined) this.inFlight[counted] -= 1;
    if (!this.enabled) return;
    const { method, route, status, seconds, bytesIn, bytesOut, errorCode, user, exemplar } = observation;
    const series = this.routeSeries(method, route);
    const byStatus = series.statusKey(status);
    this.metrics.httpRequests.add(byStatus.key, byStatus.labels);
    this.metrics.httpDuration.observeKey(series.key, series.labels, seconds, exemplar === undefined ? undefined : traceExemplarLabels(exemplar));
    this.metrics.httpRequestSize.observeKey(series.key, series.labels, bytesIn);
    this.metrics.httpResponseSize.observeKey(series.key, series.labels, bytesOut);
    if (errorCode !== undefined) this.metrics.apiErrors.add(errorCode, { code: errorCode });
    if (user !== undefined) {
      const label = this.users.label(user);
      this.metrics.requestsByUser.add(label, { user: label });
    }
  }

  pulled(type: 'manifest' | 'blob', bytes: number, repo: string): void {
    if (!this.enabled) return;
    this.metrics.pulls.add(type, { type });
    this.metrics.pullBytes.add(type, { type }, bytes);
    if (type === 'manifest') {
      const label = this.repos.label(repo);
      this.metrics.repoDownloads.add(label, { repo: label });
    }
  }

  pushedManifest(repo: string): void {
    if (!this.enabled) return;
    const label = this.repos.label(repo);
    this.metrics.repoUploads.add(label, { repo: label });
  }

  storageOperation(operation: string, seconds: number, failed: boolean): void {
    if (!this.enabled) return;
    this.metrics.storageOperationDuration.observeKey(operation, { operation }, seconds);
    if (failed) this.metrics.storageOperationErrors.add(operation, { operation });
  }

  lockWaited(lock: string, seconds: number): void {
    if (!this.enabled) return;
    this.metrics.lockWait.observeKey(lock, { lock }, seconds);
  }

  proxyPulled(namespace: string, type: 'manifest' | 'blob', source: 'cache' | 'upstream'): void {
    if (!this.enabled) return;
    this.metrics.proxyPulls.add(`${namespace} ${type} ${source}`, { namespace, type, source });
  }

  /** A real prune (not a dry run); counted in both modes, like the storage gauges: it is not per request. */

  /** The pull-through cache's upstreams report here (see src/proxy/upstream.ts). */
  readonly upstreams: UpstreamObserver = {
    requested: (namespace, outcome, seconds) => {
      if (!this.enabled) return;
      this.metrics.upstreamRequests.add(`${namespace} ${outcome}`, { namespace, outcome });
      this.metrics.upstreamDuration.observeKey(namespace, { namespace }, seconds);
    },
    received: (namespace, type, bytes) => {
      if (!this.enabled) return;
      this.metrics.upstreamBytes.add(`${namespace} ${type}`, { namespace, type }, bytes);
    },
    // A state, not an event: kept in minimal mode too, like the storage gauges.
    reachable: (namespace, up) => this.metrics.upstreamUp.set({ namespace }, up ? 1 : 0),
    // Changes of state are rare and each one matters: counted in minimal mode too.
    circuitChanged: (namespace, to) => this.metrics.upstreamCircuitTransitions.add(`${namespace} ${to}`, { namespace, to }),
  };
}
