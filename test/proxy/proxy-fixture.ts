import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { descriptor, digestOf, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, pushBlob, pushManifest } from '../helpers/registry-client.js';

/** What docker-registry says it served, from its own Prometheus metrics (the debug listener). */
export async function upstreamServed(upstream: DistributionProcess): Promise<{ blobGets: number; manifestGets: number }> {
  const response = await fetch(upstream.metricsUrl, { signal: AbortSignal.timeout(5000) });
  const metrics = new Exposition(await response.text());
  return {
    blobGets: metrics.sum('registry_http_requests_total', { handler: 'blob', method: 'get' }),
    manifestGets: metrics.sum('registry_http_requests_total', { handler: 'manifest', method: 'get' }),
  };
}

export async function portholeMetrics(url: string): Promise<Exposition> {
  const response = await raw(url, { path: '/metrics' });
  return new Exposition(response.body.toString('utf8'));
}

export interface UpstreamImage {
  repo: string;
  tag: string;
  manifest: Buffer;
  manifestDigest: string;
  /** Config and layers, by digest. */
  blobs: Map<string, Buffer>;
}

/** Pushes an OCI image with a config and `layerSizes` random layers to a registry (docker-registry takes POST then PUT). */
export async function pushImage(url: string, repo: string, tag: string, layerSizes: number[], platform = { architecture: 'amd64', os: 'linux' }): Promise<UpstreamImage> {
  const config = Buffer.from(JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const layers = layerSizes.map((size) => randomBytes(size));
  const blobs = new Map<string, Buffer>();
  for (const blob of [config, ...layers]) {
    blobs.set(await pushBlob(url, repo, blob, 'post-put'), blob);
  }
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, config), layers: layers.map((layer) => descriptor(OCI_LAYER, layer)) }),
  );
  await pushManifest(url, repo, tag, manifest, OCI_MANIFEST);
  return { repo, tag, manifest, manifestDigest: digestOf(manifest), blobs };
}

/** Pushes an index of two single-platform images (amd64 and arm64) under `tag`. */
export async function pushIndex(url: string, repo: string, tag: string): Promise<{ index: Buffer; indexDigest: string; amd64: UpstreamImage; arm64: UpstreamImage }> {
  const amd64 = await pushImage(url, repo, 'amd64-only', [2048], { architecture: 'amd64', os: 'linux' });
  const arm64 = await pushImage(url, repo, 'arm64-only', [2048], { architecture: 'arm64', os: 'linux' });
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...descriptor(OCI_MANIFEST, amd64.manifest), platform: { architecture: 'amd64', os: 'linux' } },
        { ...descriptor(OCI_MANIFEST, arm64.manifest), platform: { architecture: 'arm64', os: 'linux' } },
      ],
    }),
  );
  await pushManifest(url, repo, tag, index, OCI_INDEX);
  return { index, indexDigest: digestOf(index), amd64, arm64 };
}

export function getManifest(url: string, path: string): Promise<RawResponse> {
  return raw(url, { path, headers: { accept: [OCI_MANIFEST, OCI_INDEX].join(', ') } });
}

/**
 * Pushes an image into a registry that clients cannot simply push to (auth, TLS) by way of an
 * open docker-registry on the same storage, stopped afterwards.
 */
export async function pushThroughTwin(registry: DistributionProcess, repo: string, layerSizes: number[]): Promise<UpstreamImage> {
  const twin = await startDistribution({ root: registry.root });
  try {
    return await pushImage(twin.url, repo, 'v1', layerSizes);
  } finally {
    await twin.dispose();
  }
}

/**
 * Whether any upload session under `root` still holds data (a download into the cache that has
 * not been cleaned up). Read with one listing per session, not a tree walk: sessions come and go
 * while it looks, and one removed half way through is simply gone.
 */
export async function uploadSessionsWithData(root: string): Promise<boolean> {
  const sessions = await readdir(join(root, 'uploads')).catch(() => [] as string[]);
  for (const session of sessions) {
    const files = await readdir(join(root, 'uploads', session)).catch(() => [] as string[]);
    if (files.includes('data')) return true;
  }
  return false;
}
