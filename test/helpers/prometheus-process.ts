import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './free-port.js';
import { cleanup, tempDir } from './porthole-process.js';
import { spawnService, waitForService, type ServiceProcess } from './service-process.js';
import { waitFor } from './wait-for.js';

/** One scrape job of the generated configuration, with a single static target. */
export interface ScrapeTarget {
  job: string;
  /** host:port */
  target: string;
  /** /metrics when omitted. */
  metricsPath?: string;
  /** Keep the target's own labels on conflict, as a Pushgateway job must. */
  honorLabels?: boolean;
  /** HTTP Basic on every scrape (`basic_auth` with `password_file`). */
  basicAuth?: { username: string; passwordFile: string };
  /** A bearer token on every scrape (`authorization: {type: Bearer, credentials_file}`). */
  bearerTokenFile?: string;
}

export interface PrometheusOptions {
  /** The scrape jobs of a generated configuration (ignored with `configText`). */
  targets?: ScrapeTarget[];
  /** A whole configuration file to run instead of a generated one (rule_files as absolute paths). */
  configText?: string;
  /** 1s when omitted: tests should not wait long for data. */
  scrapeInterval?: string;
  /** Feature flags to enable (`--enable-feature`), e.g. `exemplar-storage`. */
  features?: string[];
}

/** An exemplar Prometheus stored, with the series it belongs to (/api/v1/query_exemplars). */
export interface StoredExemplar {
  seriesLabels: Record<string, string>;
  labels: Record<string, string>;
  value: number;
  /** Unix seconds. */
  timestamp: number;
}

/** A sample of a query answer: an instant vector element, or a scalar (no labels). */
export interface QuerySample {
  labels: Record<string, string>;
  value: number;
  /** Unix seconds: the evaluation time, or the sample's own time for timestamp(). */
  time: number;
}

export interface PrometheusProcess extends ServiceProcess {
  url: string;
  /** Instant query through the HTTP API (/api/v1/query); throws on any answer but success. */
  query(expression: string): Promise<QuerySample[]>;
  /** Exemplars of the series `expression` selects, over the last hour (needs the `exemplar-storage` feature). */
  queryExemplars(expression: string): Promise<StoredExemplar[]>;
  /** Resolves once `job` has been scraped by a scrape that started at or after `sinceMs` (Date.now() time). */
  scrapedSince(job: string, sinceMs: number, timeoutMs?: number): Promise<void>;
  /** Stops Prometheus and removes its configuration and database. */
  dispose(): Promise<void>;
}

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

type PromValue = [number, string];

function parsePromValue([time, text]: PromValue): { time: number; value: number } {
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  return { time, value };
}

function samplesOf(answer: QueryAnswer, expression: string): QuerySample[] {
  if (answer.status !== 'success' || !answer.data) throw new Error(`query ${expression} failed: ${answer.error ?? JSON.stringify(answer)}`);
  const { resultType, result } = answer.data;
  if (resultType === 'scalar') return [{ labels: {}, ...parsePromValue(result as PromValue) }];
  if (resultType !== 'vector') throw new Error(`query ${expression}: a ${resultType} answer, expected a vector or a scalar`);
  return (result as Array<{ metric: Record<string, string>; value: PromValue }>).map((entry) => ({ labels: entry.metric, ...parsePromValue(entry.value) }));
}

function configuration(options: PrometheusOptions): string {
  const interval = options.scrapeInterval ?? '1s';
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: (options.targets ?? []).map((target) => ({
      job_name: target.job,
      metrics_path: target.metricsPath ?? '/metrics',
      honor_labels: target.honorLabels ?? false,
      ...(target.basicAuth ? { basic_auth: { username: target.basicAuth.username, password_file: target.basicAuth.passwordFile } } : {}),
      ...(target.bearerTokenFile ? { authorization: { type: 'Bearer', credentials_file: target.bearerTokenFile } } : {}),
      static_configs: [{ targets: [target.target] }],
    })),
  });
}

/**
 * Starts the Debian `prometheus` on a free loopback port with a generated configuration and an
 * empty database in a temp dir, and resolves once it is ready (bounded: 20 s). Prometheus applies
 * new targets on a 5 s tick, so the first scrape comes about 5 s after the start: start it early.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusProcess> {
  const dir = await tempDir('prometheus');
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, options.configText ?? configuration(options));
  await mkdir(join(dir, 'data'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = spawnService('prometheus', [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...(options.features?.length ? [`--enable-feature=${options.features.join(',')}`] : []),
  ]);
  const dispose = async (): Promise<void> => {
    await service.stop();
    await cleanup(dir);
  };
  const ready = async (): Promise<true | undefined> => {
    try {
      return (await fetch(`${url}/-/ready`)).status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  };
  try {
    await waitForService(service, 'Prometheus to be ready', ready);
  } catch (err) {
    await dispose();
    throw new Error(`prometheus ${(err as Error).message}`);
  }

  const query = async (expression: string): Promise<QuerySample[]> => {
    const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expression }).toString()}`, { signal: AbortSignal.timeout(10_000) });
    return samplesOf((await response.json()) as QueryAnswer, expression);
  };
  const queryExemplars = async (expression: string): Promise<StoredExemplar[]> => {
    const now = Date.now() / 1000;
    const parameters = new URLSearchParams({ query: expression, start: String(now - 3600), end: String(now + 60) });
    const response = await fetch(`${url}/api/v1/query_exemplars?${parameters.toString()}`, { signal: AbortSignal.timeout(10_000) });
    const answer = (await response.json()) as { status: string; error?: string; data?: Array<{ seriesLabels: Record<string, string>; exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }> }> };
    if (answer.status !== 'success' || !answer.data) throw new Error(`exemplar query ${expression} failed: ${answer.error ?? JSON.stringify(answer)}`);
    return answer.data.flatMap(({ seriesLabels, exemplars }) => exemplars.map((exemplar) => ({ seriesLabels, labels: exemplar.labels, value: Number(exemplar.value), timestamp: exemplar.timestamp })));
  };
  return {
    ...service,
    url,
    query,
    queryExemplars,
    dispose,
    // `up` is written by every scrape, stamped with the time the scrape started.
    scrapedSince: (job, sinceMs, timeoutMs = 30_000) =>
      waitFor(
        `a scrape of ${job} that started after ${new Date(sinceMs).toISOString()}`,
        async () => (await query(`timestamp(up{job=${JSON.stringify(job)}})`)).some((sample) => sample.value * 1000 >= sinceMs),
        timeoutMs,
      ),
  };
}
