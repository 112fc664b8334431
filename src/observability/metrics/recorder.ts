import type { Metrics } from './catalogue.js';
import type { RepoLabels } from './repo-labels.js';

export interface RequestObservation {
  method: string;
  route: string;
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
  errorCode?: string;
}

/**
 * The one way porthole code updates per-request metrics. In minimal mode collection is off until
 * an exporter scrapes and goes off again when it stops: while off, these updates are dropped
 * (cheaply: one flag check), as zot's minimal build does. Gauges computed from storage are not
 * per-request and are always kept.
 */
export class MetricsRecorder {
  private enabled: boolean;

  constructor(
    readonly metrics: Metrics,
    private readonly repos: RepoLabels,
    collecting: boolean,
  ) {
    this.enabled = collecting;
    metrics.collectionEnabled.set(collecting ? 1 : 0);
  }

  get collecting(): boolean {
    return this.enabled;
  }

  setCollecting(on: boolean): void {
    this.enabled = on;
    this.metrics.collectionEnabled.set(on ? 1 : 0);
  }

  repoLabel(repo: string): string {
    return this.repos.label(repo);
  }

  requestStarted(): boolean {
    if (!this.enabled) return false;
    this.metrics.httpInFlight.inc();
    return true;
  }

  /** `counted` is what requestStarted answered, so in-flight stays balanced across a toggle. */
  requestFinished(counted: boolean, observation: RequestObservation): void {
    if (counted) this.metrics.httpInFlight.dec();
    if (!this.enabled) return;
    const { method, route, status, seconds, bytesIn, bytesOut, errorCode } = observation;
    this.metrics.httpRequests.inc({ method, route, code: String(status) });
    this.metrics.httpDuration.observe({ method, route }, seconds);
    this.metrics.httpRequestSize.observe({ method, route }, bytesIn);
    this.metrics.httpResponseSize.observe({ method, route }, bytesOut);
    if (errorCode !== undefined) this.metrics.apiErrors.inc({ code: errorCode });
  }

  pulled(type: 'manifest' | 'blob', bytes: number, repo: string): void {
    if (!this.enabled) return;
    this.metrics.pulls.inc({ type });
    this.metrics.pullBytes.inc({ type }, bytes);
    if (type === 'manifest') this.metrics.repoDownloads.inc({ repo: this.repos.label(repo) });
  }

  pushedManifest(repo: string): void {
    if (!this.enabled) return;
    this.metrics.repoUploads.inc({ repo: this.repos.label(repo) });
  }

  storageOperation(operation: string, seconds: number, failed: boolean): void {
    if (!this.enabled) return;
    this.metrics.storageOperationDuration.observe({ operation }, seconds);
    if (failed) this.metrics.storageOperationErrors.inc({ operation });
  }

  lockWaited(lock: string, seconds: number): void {
    if (!this.enabled) return;
    this.metrics.lockWait.observe({ lock }, seconds);
  }
}
