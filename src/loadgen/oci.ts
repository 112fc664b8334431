import { MEDIA_TYPES } from '../core/media-types.js';

export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';
export const EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const ARTIFACT_TYPE = 'application/vnd.porthole-bench.note.v1';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** Repository names, in the token scopes a registry asks for. */
export const scope = {
  pull: (repo: string) => `repository:${repo}:pull`,
  push: (repo: string) => `repository:${repo}:pull,push`,
  delete: (repo: string) => `repository:${repo}:delete`,
  catalog: 'registry:catalog:*',
};

/** An image config of its own for each pushed image (an id and the time), so that no two images share a manifest. */
export function imageConfig(id: string, layerDigests: readonly string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      created: new Date().toISOString(),
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { 'dev.porthole.bench.id': id } },
      rootfs: { type: 'layers', diff_ids: layerDigests },
    }),
  );
}

export function imageManifest(config: Descriptor, layers: readonly Descriptor[], extra: { subject?: Descriptor; artifactType?: string } = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      ...(extra.artifactType === undefined ? {} : { artifactType: extra.artifactType }),
      config,
      layers,
      ...(extra.subject === undefined ? {} : { subject: extra.subject }),
      annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
    }),
  );
}

/** The blobs a pull fetches after an image manifest, and the size the manifest gives each. */
export function manifestTargets(body: Buffer): { config: string; layers: string[]; sizes: Map<string, number> } {
  type Entry = { digest?: unknown; size?: unknown };
  const parsed = JSON.parse(body.toString('utf8')) as { config?: Entry; layers?: Entry[] };
  const config = parsed.config?.digest;
  if (typeof config !== 'string') throw new Error('the manifest names no config');
  const layers = (parsed.layers ?? []).map((layer) => layer.digest).filter((digest): digest is string => typeof digest === 'string');
  const sizes = new Map<string, number>();
  for (const entry of [parsed.config, ...(parsed.layers ?? [])]) {
    if (typeof entry?.digest === 'string' && typeof entry.size === 'number') sizes.set(entry.digest, entry.size);
  }
  return { config, layers, sizes };
}
