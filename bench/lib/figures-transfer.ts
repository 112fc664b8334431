import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LayoutDescription } from '../../test/fixtures/oci-layout.js';
import type { ContainersSandbox } from '../../test/e2e/containers-sandbox.js';
import { cleanup } from '../../test/helpers/porthole-process.js';
import { contenderCpuSeconds, type Contender, type ContenderName, type Contenders } from './contenders.js';
import { flushDirtyPages } from './dirty-pages.js';
import { figureOf, sampleAlternately, type Figure, type Samples } from './figure.js';
import { uploadedBlobs, type BenchImages } from './images.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';
import { median } from './stats.js';

/** Bound of one skopeo copy: generous, a 200 MiB push takes seconds. */
const SKOPEO_TIMEOUT_MS = 300_000;

/**
 * What each server spent on each sample (user + system CPU seconds), kept beside the times: a
 * transfer bound by skopeo takes as long whichever registry serves it, and only this tells.
 * `names` are the contenders, in the order the text gives them.
 */
export class ServerCpu<N extends string = ContenderName> {
  private readonly spent: Samples<N>;

  constructor(private readonly names: readonly N[] = ['porthole', 'distribution'] as ContenderName[] as N[]) {
    this.spent = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Samples<N>;
  }

  async timed(contender: Contender<N>, work: () => Promise<unknown>): Promise<number> {
    await flushDirtyPages();
    const cpuBefore = contenderCpuSeconds(contender);
    const started = performance.now();
    await work();
    const seconds = (performance.now() - started) / 1000;
    this.spent[contender.name].push(contenderCpuSeconds(contender) - cpuBefore);
    return seconds;
  }

  /** The median CPU seconds of each contender's samples, "—" for one without any. */
  text(): string {
    const each = this.names.map((name) => (this.spent[name].length === 0 ? '—' : median(this.spent[name]).toFixed(2)));
    return `server CPU per sample ${each.join(' / ')} s`;
  }
}

export function push(sandbox: ContainersSandbox, contender: Contender<string>, image: LayoutDescription, repo: string): Promise<unknown> {
  const destination = `docker://${contender.host}/${repo}:${image.tag}`;
  return sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, destination], SKOPEO_TIMEOUT_MS);
}

/**
 * A timed skopeo pull of `repo`:v1 from a registry into a fresh OCI layout at `out` (removed
 * afterwards), its server's CPU counted in `cpu`.
 */
export async function pullTimed<N extends string>(sandbox: ContainersSandbox, contender: Contender<N>, repo: string, out: string, cpu: ServerCpu<N>): Promise<number> {
  try {
    const source = `docker://${contender.host}/${repo}:v1`;
    const copy = (): Promise<unknown> => sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', source, `oci:${out}:v1`], SKOPEO_TIMEOUT_MS);
    return await cpu.timed(contender, copy);
  } finally {
    await cleanup(out);
  }
}

/**
 * Proves from the registry's own request counts that a push sample uploaded every blob: one PATCH
 * each. Fewer means skopeo mounted or skipped some (its blob-info cache), and the time is not a push.
 */
export async function expectUploads(contender: Contender<string>, patchesBefore: number, blobs: number, what: string): Promise<void> {
  const uploaded = (await contender.uploadPatches()) - patchesBefore;
  if (uploaded < blobs) throw new Error(`${contender.name}: ${what} uploaded ${uploaded} of ${blobs} blobs; the others were mounted or skipped, so the sample timed no real push`);
}

export function imageMebibytes(image: LayoutDescription): number {
  const bytes = image.images.flatMap((one) => [one.config, ...one.layers]).reduce((sum, blob) => sum + blob.size, 0);
  return bytes / MEBIBYTE;
}

const PUSHED_REPO = 'bench/push';

/** skopeo push of one image, skopeo pull of it into a fresh layout, and concurrent pushes by several clients. */
export async function transferFigures(contenders: Contenders, sandbox: ContainersSandbox, images: BenchImages, work: string, settings: BenchSettings): Promise<Figure[]> {
  const size = imageMebibytes(images.push.porthole[0] as LayoutDescription);
  const layers = settings.pushImage.layers;

  console.error(`bench: skopeo push of a ${size.toFixed(0)} MiB image`);
  const pushCpu = new ServerCpu();
  const pushSamples = await sampleAlternately(settings.pairs, contenders, async (contender, index) => {
    const image = images.push[contender.name][index] as LayoutDescription;
    const before = await contender.uploadPatches();
    const seconds = await pushCpu.timed(contender, () => push(sandbox, contender, image, `${PUSHED_REPO}-${index}`));
    await expectUploads(contender, before, uploadedBlobs(image), `a push of ${size.toFixed(0)} MiB`);
    return seconds;
  });
  const pushFigure = figureOf(`skopeo push of a ${size.toFixed(0)} MiB, ${layers}-layer image`, 's', 2, pushSamples, { kind: 'ratio-at-most', bound: 0.9 });
  pushFigure.detail = `every sample a new image; its ${layers + 1} blobs each seen uploaded (PATCH) by the registry; ${pushCpu.text()}`;

  console.error(`bench: skopeo pull of that image`);
  const pullCpu = new ServerCpu();
  const pull = (contender: Contender, name: string, cpu?: ServerCpu): Promise<number> =>
    pullTimed(sandbox, contender, `${PUSHED_REPO}-0`, join(work, `pull-${contender.name}-${name}`), cpu ?? new ServerCpu());
  // One untimed pull each first: the first GETs of large blobs (JIT of the streaming path) ran slow.
  for (const contender of [contenders.porthole, contenders.distribution]) await pull(contender, 'warm-up');
  const pullSamples = await sampleAlternately(settings.pairs, contenders, (contender, index) => pull(contender, String(index), pullCpu));
  const pullFigure = figureOf('skopeo pull of that image (into a fresh OCI layout)', 's', 2, pullSamples, { kind: 'ratio-at-most', bound: 0.9 });
  pullFigure.detail = pullCpu.text();

  const clients = settings.concurrentPushers;
  const groupSize = imageMebibytes(images.concurrent.porthole[0]?.[0] as LayoutDescription) * clients;
  console.error(`bench: ${clients} clients pushing different images at once`);
  const concurrentCpu = new ServerCpu();
  const concurrentSamples = await sampleAlternately(settings.pairs, contenders, async (contender, index) => {
    const group = images.concurrent[contender.name][index] as LayoutDescription[];
    const before = await contender.uploadPatches();
    const seconds = await concurrentCpu.timed(contender, () => Promise.all(group.map((image, client) => push(sandbox, contender, image, `bench/concurrent-${index}-${client}`))));
    await expectUploads(contender, before, group.reduce((sum, image) => sum + uploadedBlobs(image), 0), `${clients} concurrent pushes`);
    return seconds;
  });
  const concurrentFigure = figureOf(`${clients} clients pushing different images at once (${groupSize.toFixed(0)} MiB in all), total`, 's', 2, concurrentSamples, {
    kind: 'ratio-at-most',
    bound: 0.9,
  });
  concurrentFigure.detail = concurrentCpu.text();
  return [pushFigure, pullFigure, concurrentFigure];
}
