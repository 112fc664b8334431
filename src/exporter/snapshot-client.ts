import { readFileSync } from 'node:fs';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { Agent, request } from 'undici';
import { durationMs } from '../config/durations.js';
import { readSecretFile, secretFileProblem } from '../config/secret-file.js';
import type { ExporterConfig } from './config.js';

export type SnapshotMetric = MetricObjectWithValues<MetricValue<string>>;

/** What porthole's minimal-mode endpoint answers (see metrics-endpoint.ts). */
export interface Snapshot {
  collecting: boolean;
  metrics: SnapshotMetric[];
}

/** Why porthole could not be read (porthole_exporter_scrape_errors_total's reason). */
export type SnapshotFailure = 'unreachable' | 'unauthorized' | 'status' | 'invalid' | 'timeout' | 'credentials';

/** Why porthole could not be read; the exporter then answers porthole_up 0 and logs this. */
export class SnapshotError extends Error {
  constructor(
    message: string,
    readonly reason: SnapshotFailure,
  ) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** What porthole said of a refusal: the first line of its plain-text answer, bounded (it never holds a secret). */
function refusalText(body: string): string {
  const line = body.split('\n', 1)[0]?.trim() ?? '';
  return line === '' ? '' : `: ${line.slice(0, 200)}`;
}

/**
 * Fetches porthole's metrics snapshot, with credentials and a CA when configured. A password or
 * token kept in a file is read again for every fetch, as Prometheus reads its password_file and
 * credentials_file, so that a rotated secret is used without a restart.
 */
export class SnapshotClient {
  private readonly url: string;
  private readonly dispatcher: Agent;
  private readonly timeoutMs: number;

  constructor(private readonly server: ExporterConfig['Server']) {
    this.url = `${server.protocol}://${server.host}:${server.port}${server.path}`;
    this.timeoutMs = durationMs(server.timeout);
    const ca = server.cacert === undefined ? undefined : readFileSync(server.cacert);
    this.dispatcher = new Agent({ connect: ca ? { ca } : {}, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
  }

  get target(): string {
    return this.url;
  }

  /** The Authorization header of a fetch: Bearer with the token file, Basic with a username, else none. */
  private authorization(): string | undefined {
    const { username, password, passwordFromEnv, passwordFile, bearerTokenFile } = this.server;
    if (bearerTokenFile !== undefined) return `Bearer ${this.secret('Server.bearerTokenFile', bearerTokenFile)}`;
    if (username === undefined) return undefined;
    const secret = passwordFile !== undefined ? this.secret('Server.passwordFile', passwordFile) : passwordFromEnv !== undefined ? process.env[passwordFromEnv] : password;
    return `Basic ${Buffer.from(`${username}:${secret ?? ''}`).toString('base64')}`;
  }

  private secret(key: string, path: string): string {
    try {
      return readSecretFile(path);
    } catch (err) {
      throw new SnapshotError(`${key}: ${secretFileProblem(path, err)}; porthole was not asked`, 'credentials');
    }
  }

  /** Why porthole refused: the exporter sent no credentials, sent ones it does not accept, or ones of a user not let in. */
  private refusal(status: number, body: string, sentCredentials: boolean): SnapshotError {
    const said = `${status}${refusalText(body)}`;
    if (status === 403) return new SnapshotError(`${this.url} does not let the exporter's user read the metrics (${said}); add the user to porthole's extensions.metrics.auth.users`, 'unauthorized');
    if (!sentCredentials) return new SnapshotError(`${this.url} asks for credentials (${said}); configure Server.username with a password, or Server.bearerTokenFile`, 'unauthorized');
    return new SnapshotError(`${this.url} refused the exporter's credentials (${said})`, 'unauthorized');
  }

  async fetch(): Promise<Snapshot> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const authorization = this.authorization();
    if (authorization) headers.authorization = authorization;
    let response;
    try {
      response = await request(this.url, { headers, dispatcher: this.dispatcher, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError' || (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT';
      throw new SnapshotError(`cannot reach ${this.url}: ${(err as Error).message}`, timedOut ? 'timeout' : 'unreachable');
    }
    const body = await response.body.text();
    if (response.statusCode === 401 || response.statusCode === 403) throw this.refusal(response.statusCode, body, authorization !== undefined);
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
