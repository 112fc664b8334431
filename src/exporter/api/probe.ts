import type { ManifestCache } from './manifest-cache.js';
import { MANIFEST_ACCEPT } from './manifest-kind.js';
import type { RegistryClient } from './registry-client.js';

export type ProbeStep = 'ping' | 'manifest' | 'blob';

export interface StepResult {
  seconds: number;
  ok: boolean;
}

/** The synthetic probe of one collection; a step that had nothing to probe (an empty registry) is absent. */
export type ProbeResult = Partial<Record<ProbeStep, StepResult>>;

/** What the probe pulls: a manifest that the cache knows references a blob. */
export interface ProbeTarget {
  repository: string;
  manifest: string;
  blob: string;
}

/**
 * The first manifest, in catalog order, that references a blob: a tagged image, or the first
 * child of a tagged index. The same one each collection while it stays, so durations compare.
 */
export function chooseProbeTarget(repositories: ReadonlyArray<{ name: string; digests: readonly string[] }>, cache: ManifestCache): ProbeTarget | undefined {
  for (const { name, digests } of repositories) {
    for (const digest of digests) {
      const entry = cache.get(digest);
      if (!entry) continue;
      if (entry.blobs[0] !== undefined) return { repository: name, manifest: digest, blob: entry.blobs[0] };
      for (const child of entry.children) {
        const blob = cache.get(child)?.blobs[0];
        if (blob !== undefined) return { repository: name, manifest: child, blob };
      }
    }
  }
  return undefined;
}

export async function timed(run: () => Promise<boolean>): Promise<StepResult> {
  const started = performance.now();
  let ok = false;
  try {
    ok = await run();
  } catch {
    ok = false;
  }
  return { seconds: (performance.now() - started) / 1000, ok };
}

/**
 * GET of the target manifest (by digest, read in full) and HEAD of a blob it references, as a
 * client pulling would do; sent with a User-Agent of its own so access logs tell them apart.
 */
export async function probePull(client: RegistryClient, target: ProbeTarget, signal: AbortSignal, userAgent: string): Promise<ProbeResult> {
  const scope = `repository:${target.repository}:pull`;
  const manifest = await timed(async () => {
    const response = await client.request(`v2/${target.repository}/manifests/${target.manifest}`, { scope, signal, accept: MANIFEST_ACCEPT, userAgent });
    return response.status === 200;
  });
  const blob = await timed(async () => {
    const response = await client.request(`v2/${target.repository}/blobs/${target.blob}`, { method: 'HEAD', scope, signal, userAgent });
    // A registry on object storage may redirect a blob to it: that is an answer.
    return response.status === 200 || (response.status >= 300 && response.status < 400);
  });
  return { manifest, blob };
}
