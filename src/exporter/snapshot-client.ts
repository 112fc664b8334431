import { readFileSync } from 'node:fs';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { Agent, request } from 'undici';
import { durationMs } from '../config/durations.js';
import type { ExporterConfig } from './config.js';

export type SnapshotMetric = MetricObjectWithValues<MetricValue<string>>;

/** What porthole's minimal-mode endpoint answers (see metrics-endpoint.ts). */
export interface Snapshot {
  collecting: boolean;
  metrics: SnapshotMetric[];
}

/** Why porthole could not be read; the exporter then answers porthole_up 0 and logs this. */
export class SnapshotError extends Error {
  constructor(
    message: string,
    readonly reason: 'unreachable' | 'unauthorized' | 'status' | 'invalid' | 'timeout',
  ) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** Fetches porthole's metrics snapshot, with credentials and a CA when configured. */
export class SnapshotClient {
  private readonly url: string;
  private readonly dispatcher: Agent;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;

  constructor(server: ExporterConfig['Server']) {
    this.url = `${server.protocol}://${server.host}:${server.port}${server.path}`;
    this.timeoutMs = durationMs(server.timeout);
    const ca = server.cacert === undefined ? undefined : readFileSync(server.cacert);
    this.dispatcher = new Agent({ connect: ca ? { ca } : {}, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    const password = server.passwordFromEnv !== undefined ? process.env[server.passwordFromEnv] : server.password;
    if (server.username !== undefined) {
      this.authorization = `Basic ${Buffer.from(`${server.username}:${password ?? ''}`).toString('base64')}`;
    }
  }

  get target(): string {
    return this.url;
  }

  async fetch(): Promise<Snapshot> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authorization) headers.authorization = this.authorization;
    let response;
    try {
      response = await request(this.url, { headers, dispatcher: this.dispatcher, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError' || (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT';
      throw new SnapshotError(`cannot reach ${this.url}: ${(err as Error).message}`, timedOut ? 'timeout' : 'unreachable');
    }
    const body = await response.body.text();
    if (response.statusCode === 401 || response.statusCode === 403) {
      throw new SnapshotError(`${this.url} refused the exporter's credentials (${response.statusCode})`, 'unauthorized');
    }
    if (response.statusCode !== 200) throw new SnapshotError(`${this.url} answered ${response.statusCode}`, 'status');
    try {
      const snapshot = JSON.parse(body) as Snapshot;
      if (!Array.isArray(snapshot.metrics)) throw new Error('no "metrics" array');
      return snapshot;
    } catch (err) {
      throw new SnapshotError(`${this.url} did not answer a metrics snapshot (is porthole in full mode? ${(err as Error).message})`, 'invalid');
    }
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
