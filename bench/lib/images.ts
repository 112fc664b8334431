import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { buildOciLayout, type LayoutDescription } from '../../test/fixtures/oci-layout.js';
import type { ContenderName } from './contenders.js';
import type { BenchSettings, ImageShape } from './settings.js';

/** Files per layer: layers of many files, as real images have, each file a quarter of the layer. */
const FILES_PER_LAYER = 4;

/**
 * Every image the push figures need, built before anything is measured, in OCI layouts under
 * `dir` (one temp dir, removed at the end).
 *
 * skopeo keeps a blob-info cache (as root: /var/lib/containers/cache/blob-info-cache-v1.boltdb,
 * whatever HOME says) and, instead of uploading a blob it has seen in another repository of the
 * same registry, asks the registry to mount it. A push sample would then upload nothing. So every
 * push sample gets an image of its own, with fresh random layers (a seed new to each run), pushed
 * once to one registry: distinct hosts, so no cross-registry mount either. Each sample also checks
 * with the registry's own metrics that its blobs were uploaded (see figures-transfer.ts).
 *
 * Layers are gzip at level 0 (stored blocks): the content is random and would not compress anyway,
 * and deflating 200 MiB at the default level takes seconds per image.
 */
export interface BenchImages<N extends string = ContenderName> {
  /** One image per push sample, per registry. */
  push: Record<N, LayoutDescription[]>;
  /** `concurrentPushers` images per concurrent-push sample, per registry (none when not asked for). */
  concurrent: Record<N, LayoutDescription[][]>;
}

export async function buildImage(dir: string, name: string, seed: string, shape: ImageShape): Promise<LayoutDescription> {
  return buildOciLayout({
    dir: join(dir, name),
    tag: 'v1',
    seed: `${seed}/${name}`,
    layers: shape.layers,
    filesPerLayer: FILES_PER_LAYER,
    fileBytes: Math.ceil(shape.layerBytes / FILES_PER_LAYER),
    gzipLevel: 0,
  });
}

/**
 * The push images of every sample for each of `registries` (porthole and distribution unless
 * named), and the concurrent pushes' images unless `concurrent` is false.
 */
export async function buildBenchImages<N extends string = ContenderName>(
  dir: string,
  settings: BenchSettings,
  registries: readonly N[] = ['porthole', 'distribution'] as ContenderName[] as N[],
  concurrent = true,
): Promise<BenchImages<N>> {
  const seed = randomUUID();
  const perRegistry = <T>(): Record<N, T[]> => Object.fromEntries(registries.map((registry) => [registry, [] as T[]])) as Record<N, T[]>;
  const images: BenchImages<N> = { push: perRegistry(), concurrent: perRegistry() };
  for (const registry of registries) {
    for (let sample = 0; sample < settings.pairs; sample += 1) {
      images.push[registry].push(await buildImage(dir, `${registry}-push-${sample}`, seed, settings.pushImage));
      if (!concurrent) continue;
      const group: LayoutDescription[] = [];
      for (let client = 0; client < settings.concurrentPushers; client += 1) {
        group.push(await buildImage(dir, `${registry}-concurrent-${sample}-${client}`, seed, settings.concurrentImage));
      }
      images.concurrent[registry].push(group);
    }
  }
  return images;
}

/** Blobs an image's push uploads: its layers and its config. */
export function uploadedBlobs(image: LayoutDescription): number {
  return image.images.reduce((count, one) => count + one.layers.length + 1, 0);
}
