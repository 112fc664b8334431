import { Exposition } from '../../test/helpers/prometheus-text.js';
import { startDistribution } from '../../test/helpers/distribution-process.js';
import type { PortholeProcess } from '../../test/helpers/porthole-process.js';
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
