import { Exposition } from '../../test/helpers/prometheus-text.js';
import { startDistribution } from '../../test/helpers/distribution-process.js';
import type { PortholeProcess } from '../../test/helpers/porthole-process.js';
import { processCpuSeconds } from './process-cpu.js';
import { startQuietPorthole } from './quiet-porthole.js';

export type ContenderName = 'porthole' | 'distribution';

/** One registry under measurement, seen the same way whichever it is (N: the names of its group's contenders). */
export interface Contender<N extends string = ContenderName> {
  name: N;
  url: string;
  /** host:port, as skopeo wants it. */
  host: string;
  /** The server process itself (not a wrapper), for /proc readings. */
  pid: number;
  /** A porthole's storage root, where its blob files are when its storage is the filesystem (static-mirror.ts). */
  root?: string;
  /** Every process that serves, when `pid` is not alone (nginx's master and workers): CPU figures sum over them. */
  servingPids?(): number[];
  /**
   * Blob upload PATCH requests the registry has answered so far, from its own metrics: how a push
   * sample proves that its blobs were uploaded, not mounted or skipped by skopeo's blob-info cache.
   */
  uploadPatches(): Promise<number>;
  dispose(): Promise<void>;
}

export interface Contenders {
  porthole: Contender;
  distribution: Contender;
}

/** porthole in production mode (built, log.level warn) with full-mode Prometheus metrics, as asked of the comparison. */
export const PORTHOLE_CONFIG = 'extensions:\n  metrics: {}\n';

async function scrape(metricsUrl: string): Promise<Exposition> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`GET ${metricsUrl}: ${response.status}`);
  return new Exposition(await response.text());
}

/** A porthole that runs (started quiet: quiet-porthole.ts) as a contender named `name`. */
export function portholeContender<N extends string>(name: N, porthole: PortholeProcess & { dispose(): Promise<void> }): Contender<N> {
  return {
    name,
    url: porthole.url,
    host: porthole.host,
    pid: porthole.process.pid as number,
    root: porthole.root,
    uploadPatches: async () =>
      (await scrape(`${porthole.url}/metrics`)).sum('porthole_http_requests_total', { route: '/v2/:name/blobs/uploads/:id', method: 'PATCH' }),
    dispose: () => porthole.dispose(),
  };
}

/** A docker-registry that runs, with Prometheus metrics at `metricsUrl`, as a contender named `name`. */
export function distributionContender<N extends string>(
  name: N,
  distribution: { url: string; host: string; process: { pid?: number | undefined }; metricsUrl: string; dispose(): Promise<void> },
): Contender<N> {
  return {
    name,
    url: distribution.url,
    host: distribution.host,
    pid: distribution.process.pid as number,
    // distribution 2.8 counts requests only in its duration histogram, by handler and method.
    uploadPatches: async () =>
      (await scrape(distribution.metricsUrl)).sum('registry_http_request_duration_seconds_count', { handler: 'blob_upload_chunk', method: 'patch' }),
    dispose: () => distribution.dispose(),
  };
}

async function startPortholeContender(): Promise<Contender> {
  return portholeContender('porthole', await startQuietPorthole(PORTHOLE_CONFIG));
}

async function startDistributionContender(): Promise<Contender> {
  return distributionContender('distribution', await startDistribution());
}

/**
 * Starts both registries; `track` is given each as soon as it runs, so that a failure or an
 * interrupt while the other starts still stops it.
 */
export async function startContenders(track: (contender: Contender) => void): Promise<Contenders> {
  const porthole = await startPortholeContender();
  track(porthole);
  const distribution = await startDistributionContender();
  track(distribution);
  return { porthole, distribution };
}

export function bothOf(contenders: Contenders): Contender[] {
  return [contenders.porthole, contenders.distribution];
}

/** CPU seconds (user + system) a contender's serving processes have used so far. */
export function contenderCpuSeconds(contender: Pick<Contender<string>, 'pid' | 'servingPids'>): number {
  return (contender.servingPids?.() ?? [contender.pid]).reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}

/**
 * The contenders of the anchors group (anchors.ts, issue 20): porthole as the comparison runs it;
 * porthole in its default configuration (access lines at info, to a file); the framework's
 * ceiling (a bare Fastify server answering from memory, fastify-ceiling.ts); nginx serving the
 * same files with one worker and with one per core; docker-registry as the comparison runs it.
 */
export type AnchorName = 'porthole' | 'porthole-default' | 'fastify' | 'nginx-1' | 'nginx-auto' | 'distribution';

/**
 * porthole in its default configuration, as issue 20's first anchor asks: log.level info (the
 * default) with its access lines going to `accessLog` (log.output), metrics as the comparison's.
 */
export async function startDefaultPorthole(accessLog: string): Promise<Contender<'porthole-default'>> {
  return portholeContender('porthole-default', await startQuietPorthole(PORTHOLE_CONFIG, { accessLog: { file: accessLog } }));
}

/**
 * A server that is not a registry (the Fastify ceiling, nginx) as a contender of the GET
 * figures: it takes no uploads, so a figure that counts them cannot use it.
 */
export function staticContender<N extends string>(name: N, server: { url: string; pid: number; pids?(): number[]; stop(): Promise<void> }): Contender<N> {
  return {
    name,
    url: server.url,
    host: new URL(server.url).host,
    pid: server.pid,
    ...(server.pids === undefined ? {} : { servingPids: () => (server.pids as () => number[])() }),
    uploadPatches: () => Promise.reject(new Error(`${name} takes no uploads`)),
    dispose: () => server.stop(),
  };
}

