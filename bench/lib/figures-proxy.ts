import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { LayoutDescription } from '../../test/fixtures/oci-layout.js';
import type { ContainersSandbox } from '../../test/e2e/containers-sandbox.js';
import { startDistribution } from '../../test/helpers/distribution-process.js';
import { cleanup } from '../../test/helpers/porthole-process.js';
import type { Contender, Contenders } from './contenders.js';
import { figureOf, sampleAlternately, type Figure } from './figure.js';
import { buildImage } from './images.js';
import { processCpuSeconds } from './process-cpu.js';
import { startQuietPorthole } from './quiet-porthole.js';
import type { BenchSettings } from './settings.js';
import { median } from './stats.js';

const SKOPEO_TIMEOUT_MS = 300_000;
/** The namespace porthole's cache gives the upstream; docker-registry's proxy mode has none. */
const NAMESPACE = 'up.local';

interface ProxyContender extends Contender {
  /** What comes between the host and the repository name in a pull reference. */
  prefix: string;
}

function contender(name: Contender['name'], url: string, host: string, pid: number, prefix: string, dispose: () => Promise<void>): ProxyContender {
  return {
    name,
    url,
    host,
    pid,
    prefix,
    uploadPatches: () => Promise.reject(new Error('no pushes are measured through the caches')),
    dispose,
  };
}

/**
 * Pull-through caches side by side: porthole (proxy.upstreams) and docker-registry in proxy mode
 * (proxy.remoteurl), both in front of one docker-registry upstream on loopback. A cold pull is of
 * an image neither cache has seen (a new one per sample); a warm pull is of one image both cached
 * before the samples. skopeo pulls into a fresh OCI layout each time.
 */
export async function proxyFigures(sandbox: ContainersSandbox, work: string, settings: BenchSettings, track: (what: string, stop: () => Promise<void>) => void): Promise<Figure[]> {
  console.error('bench: pull-through caches: building and loading the images');
  const upstream = await startDistribution();
  track('stop the upstream registry', () => upstream.dispose());
  const seed = randomUUID();
  const push = async (name: string, repo: string): Promise<LayoutDescription> => {
    const image = await buildImage(join(work, 'proxy-images'), name, seed, settings.proxyImage);
    await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${image.dir}:v1`, `docker://${upstream.host}/${repo}:v1`], SKOPEO_TIMEOUT_MS);
    await cleanup(image.dir);
    return image;
  };
  for (const name of ['porthole', 'distribution']) {
    for (let sample = 0; sample < settings.pairs; sample += 1) await push(`cold-${name}-${sample}`, `bench/cold-${name}-${sample}`);
    await push(`cold-${name}-warm-up`, `bench/cold-${name}-warm-up`);
  }
  await push('warm', 'bench/warm');

  const porthole = await startQuietPorthole(`proxy:\n  upstreams:\n    - { name: ${NAMESPACE}, url: "${upstream.url}" }\n`);
  track('stop porthole (pull-through)', () => porthole.dispose());
  const distribution = await startDistribution({ proxyOf: upstream.url });
  track('stop docker-registry (proxy mode)', () => distribution.dispose());
  const caches: Contenders & { porthole: ProxyContender; distribution: ProxyContender } = {
    porthole: contender('porthole', porthole.url, porthole.host, porthole.process.pid as number, `${NAMESPACE}/`, () => porthole.dispose()),
    distribution: contender('distribution', distribution.url, distribution.host, distribution.process.pid as number, '', () => distribution.dispose()),
  };

  const cpu: Record<Contender['name'], number[]> = { porthole: [], distribution: [] };
  const pull = async (cache: ProxyContender, repo: string, label: string): Promise<number> => {
    const out = join(work, `proxy-pull-${cache.name}-${label}`);
    const before = processCpuSeconds(cache.pid);
    const started = performance.now();
    try {
      await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${cache.host}/${cache.prefix}${repo}:v1`, `oci:${out}:v1`], SKOPEO_TIMEOUT_MS);
      cpu[cache.name].push(processCpuSeconds(cache.pid) - before);
      return (performance.now() - started) / 1000;
    } finally {
      await cleanup(out);
    }
  };
  const of = (name: Contender['name']): ProxyContender => caches[name];
  const size = `${settings.proxyImage.layers} × ${settings.proxyImage.layerBytes / 1024 / 1024} MiB layers`;

  console.error('bench: cold pulls through the caches');
  // One untimed cold pull each first: the first run of a code path (JIT) is slow in both.
  for (const cache of [caches.porthole, caches.distribution]) await pull(cache, `bench/cold-${cache.name}-warm-up`, 'cold-warm-up');
  cpu.porthole = [];
  cpu.distribution = [];
  const cold = await sampleAlternately(settings.pairs, caches, (cache, index) => pull(of(cache.name), `bench/cold-${cache.name}-${index}`, `cold-${index}`));
  const coldCpu = `server CPU per pull ${median(cpu.porthole).toFixed(2)} / ${median(cpu.distribution).toFixed(2)} s`;
  cpu.porthole = [];
  cpu.distribution = [];

  console.error('bench: warm pulls through the caches');
  for (const cache of [caches.porthole, caches.distribution]) await pull(cache, 'bench/warm', 'warm-up');
  cpu.porthole = [];
  cpu.distribution = [];
  const warm = await sampleAlternately(settings.pairs, caches, (cache, index) => pull(of(cache.name), 'bench/warm', `warm-${index}`));

  const coldFigure = figureOf(`cold pull through the cache (${size}, upstream on loopback)`, 's', 2, cold, { kind: 'ratio-at-most', bound: 1.1 });
  coldFigure.detail = `every sample an image new to both caches; ${coldCpu}`;
  const warmFigure = figureOf('warm pull through the cache (the same image, cached)', 's', 2, warm, { kind: 'ratio-at-most', bound: 1.0 });
  warmFigure.detail = `server CPU per pull ${median(cpu.porthole).toFixed(2)} / ${median(cpu.distribution).toFixed(2)} s`;
  return [coldFigure, warmFigure];
}
