import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayoutDescription } from '../fixtures/oci-layout.js';
import { raw } from '../helpers/raw-http.js';
import { digestOf, expectStatus, pushBlob, pushManifest } from '../helpers/registry-client.js';

/**
 * What a test put into a registry, kept on the test's side so that the figures porthole-exporter
 * exports can be compared with figures computed here, from the bytes pushed, and not from
 * anything the registry or the exporter says.
 */

export type ManifestKind = 'image' | 'index' | 'artifact';

export interface KnownManifest {
  digest: string;
  size: number;
  kind: ManifestKind;
  /** Config and layers (of an image or artifact manifest). */
  blobs: Array<{ digest: string; size: number }>;
  /** The manifests an index points at. */
  children: string[];
}

export interface ExpectedFigures {
  repositories: number;
  tags: number;
  /** Repository to its number of tags. */
  repositoryTags: Record<string, number>;
  /** Repository to the bytes of the distinct digests its tags reach. */
  repositorySize: Record<string, number>;
  /** Distinct (repository, digest) manifests reachable from tags, by kind. */
  manifests: Record<ManifestKind, number>;
}

export class RegistryContent {
  readonly manifests = new Map<string, KnownManifest>();
  /** Repository to tag to manifest digest. */
  readonly tags = new Map<string, Map<string, string>>();

  addManifest(manifest: KnownManifest): void {
    this.manifests.set(manifest.digest, manifest);
  }

  tag(repository: string, tag: string, digest: string): void {
    if (!this.manifests.has(digest)) throw new Error(`tagging an unknown manifest ${digest}`);
    let tags = this.tags.get(repository);
    if (tags === undefined) this.tags.set(repository, (tags = new Map()));
    tags.set(tag, digest);
  }

  /** Every digest (manifests, configs, layers) reachable from the tags of `repository`, with its size. */
  reachable(repository: string): { digests: Map<string, number>; manifests: Set<string> } {
    const digests = new Map<string, number>();
    const manifests = new Set<string>();
    const visit = (digest: string): void => {
      if (manifests.has(digest)) return;
      const manifest = this.manifests.get(digest);
      if (manifest === undefined) throw new Error(`unknown manifest ${digest}`);
      manifests.add(digest);
      digests.set(digest, manifest.size);
      for (const blob of manifest.blobs) digests.set(blob.digest, blob.size);
      for (const child of manifest.children) visit(child);
    };
    for (const digest of this.tags.get(repository)?.values() ?? []) visit(digest);
    return { digests, manifests };
  }

  expected(): ExpectedFigures {
    const figures: ExpectedFigures = { repositories: this.tags.size, tags: 0, repositoryTags: {}, repositorySize: {}, manifests: { image: 0, index: 0, artifact: 0 } };
    for (const [repository, tags] of this.tags) {
      figures.tags += tags.size;
      figures.repositoryTags[repository] = tags.size;
      const { digests, manifests } = this.reachable(repository);
      figures.repositorySize[repository] = [...digests.values()].reduce((sum, size) => sum + size, 0);
      for (const digest of manifests) figures.manifests[(this.manifests.get(digest) as KnownManifest).kind]++;
    }
    return figures;
  }
}

/** The digest a registry gives for `repository:reference` (HEAD, Docker-Content-Digest). */
export async function registryDigest(url: string, repository: string, reference: string, headers: Record<string, string> = {}): Promise<string> {
  const accept = [
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
  ].join(', ');
  const response = expectStatus(await raw(url, { method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, headers: { accept, ...headers } }), 200, `HEAD ${repository}:${reference}`);
  const digest = response.headers['docker-content-digest'];
  if (typeof digest !== 'string') throw new Error(`no Docker-Content-Digest for ${repository}:${reference}`);
  return digest;
}

/** Records an OCI layout a test copied into a registry with skopeo (its root, and the images of an index). */
export function addLayout(content: RegistryContent, layout: LayoutDescription): string {
  for (const image of layout.images) {
    content.addManifest({
      digest: image.manifest.digest,
      size: image.manifest.size,
      kind: 'image',
      blobs: [image.config, ...image.layers].map(({ digest, size }) => ({ digest, size })),
      children: [],
    });
  }
  if (layout.index !== undefined) {
    content.addManifest({ digest: layout.index.digest, size: layout.index.size, kind: 'index', blobs: [], children: layout.images.map((image) => image.manifest.digest) });
  }
  return layout.root.digest;
}

/** The bytes of a blob of an OCI layout, to push it elsewhere with the test's own client. */
export function layoutBlob(layout: LayoutDescription, digest: string): Promise<Buffer> {
  return readFile(join(layout.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
}

export interface ManifestPush {
  repository: string;
  /** A tag, or the manifest's digest for an untagged push. */
  reference?: string;
  mediaType: string;
  kind: ManifestKind;
  /** Config first, then layers: pushed to `repository` (docker-registry 2.8 takes POST then PUT), then referenced. */
  blobs: Array<{ mediaType: string; data: Buffer }>;
  /** Extra top-level fields of the manifest (artifactType, annotations). */
  extra?: Record<string, unknown>;
}

/**
 * Pushes the blobs and then an image-shaped manifest (config + layers) of `push`, records it in
 * `content` (tagged when a tag is given) and returns its digest.
 */
export async function pushImageManifest(url: string, content: RegistryContent, push: ManifestPush): Promise<string> {
  const descriptors = [];
  for (const blob of push.blobs) {
    const digest = await pushBlob(url, push.repository, blob.data, 'post-put');
    descriptors.push({ mediaType: blob.mediaType, digest, size: blob.data.length });
  }
  const [config, ...layers] = descriptors;
  if (config === undefined) throw new Error('a manifest needs a config');
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: push.mediaType, ...push.extra, config, layers }));
  const digest = digestOf(bytes);
  await pushManifest(url, push.repository, push.reference ?? digest, bytes, push.mediaType);
  content.addManifest({ digest, size: bytes.length, kind: push.kind, blobs: descriptors.map(({ digest: d, size }) => ({ digest: d, size })), children: [] });
  if (push.reference !== undefined && !push.reference.startsWith('sha256:')) content.tag(push.repository, push.reference, digest);
  return digest;
}

/** Tags an existing manifest of `repository` again (GET its bytes, PUT them under `tag`), recording the tag. */
export async function retag(url: string, content: RegistryContent, repository: string, digest: string, tag: string): Promise<void> {
  const known = content.manifests.get(digest);
  if (known === undefined) throw new Error(`retagging an unknown manifest ${digest}`);
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  const got = expectStatus(await raw(url, { path: `/v2/${repository}/manifests/${digest}`, headers: { accept } }), 200, `GET ${repository}@${digest}`);
  const mediaType = got.headers['content-type'];
  if (typeof mediaType !== 'string') throw new Error(`no Content-Type for ${repository}@${digest}`);
  await pushManifest(url, repository, tag, got.body, mediaType);
  content.tag(repository, tag, digest);
}
