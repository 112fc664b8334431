import { createHash, randomBytes } from 'node:crypto';
import { raw, type RawResponse } from './raw-http.js';

/**
 * A deliberately small registry client over raw(): just enough to put content in place for the
 * spec, bad-input and crash suites. Every helper throws with the server's answer when a step
 * does not get the status the spec requires, so a broken setup reads as such in the test output.
 */

export type DigestAlgorithm = 'sha256' | 'sha512';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export function digestOf(data: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Throws with method, path, status and body unless the answer has the expected status. */
export function expectStatus(response: RawResponse, expected: number, what: string): RawResponse {
  if (response.status !== expected) {
    throw new Error(`${what}: expected ${expected}, got ${response.status}: ${response.body.toString('utf8').slice(0, 500)}`);
  }
  return response;
}

/** The upload URL path of a 202 answer (porthole answers with a relative Location). */
export function locationOf(response: RawResponse): string {
  const location = response.headers.location;
  if (typeof location !== 'string' || location.length === 0) throw new Error(`no Location header on a ${response.status} answer`);
  return location;
}

/** Appends query parameters to a location that may already carry some. */
export function withQuery(location: string, query: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}${query}`;
}

/** POST /v2/<name>/blobs/uploads/ : a new session's location. */
export async function startUpload(url: string, name: string, query = ''): Promise<string> {
  const response = await raw(url, { method: 'POST', path: `/v2/${name}/blobs/uploads/${query}`, headers: { 'content-length': 0 } });
  return locationOf(expectStatus(response, 202, `start upload in ${name}`));
}

export type MonolithicStyle = 'single-post' | 'post-put';

/** Pushes a whole blob in one request (POST ?digest=) or two (POST, then PUT with the body). */
export async function pushBlob(url: string, name: string, data: Buffer, style: MonolithicStyle = 'single-post', algorithm: DigestAlgorithm = 'sha256'): Promise<string> {
  const digest = digestOf(data, algorithm);
  const headers = { 'content-type': 'application/octet-stream', 'content-length': data.length };
  const path =
    style === 'single-post'
      ? `/v2/${name}/blobs/uploads/?digest=${digest}`
      : withQuery(await startUpload(url, name, algorithm === 'sha256' ? '' : `?digest-algorithm=${algorithm}`), `digest=${digest}`);
  const method = style === 'single-post' ? 'POST' : 'PUT';
  expectStatus(await raw(url, { method, path, headers, body: data }), 201, `push blob ${digest} to ${name} (${style})`);
  return digest;
}

/** Pushes a blob as PATCH chunks with Content-Range (each answered 202), closed by an empty PUT. */
export async function pushChunked(url: string, name: string, data: Buffer, chunkSize: number): Promise<string> {
  const digest = digestOf(data);
  let location = await startUpload(url, name);
  for (let start = 0; start < data.length; start += chunkSize) {
    const chunk = data.subarray(start, Math.min(data.length, start + chunkSize));
    const headers = {
      'content-type': 'application/octet-stream',
      'content-range': `${start}-${start + chunk.length - 1}`,
      'content-length': chunk.length,
    };
    const answer = expectStatus(await raw(url, { method: 'PATCH', path: location, headers, body: chunk }), 202, `PATCH ${start}-${start + chunk.length - 1}`);
    location = locationOf(answer);
  }
  const put = await raw(url, { method: 'PUT', path: withQuery(location, `digest=${digest}`), headers: { 'content-length': 0 } });
  expectStatus(put, 201, `close chunked upload of ${digest}`);
  return digest;
}

/** PUT /v2/<name>/manifests/<ref> and the raw answer, for tests that look at failures too. */
export function putManifest(url: string, name: string, reference: string, body: Buffer | string, mediaType: string): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return raw(url, {
    method: 'PUT',
    path: `/v2/${name}/manifests/${reference}`,
    headers: { 'content-type': mediaType, 'content-length': bytes.length },
    body: bytes,
  });
}

export interface PushedManifest {
  digest: string;
  bytes: Buffer;
  response: RawResponse;
}

/** Pushes a manifest (a JSON value is serialised once, so the digest is of the bytes sent) and expects 201. */
export async function pushManifest(url: string, name: string, reference: string, json: unknown, mediaType: string): Promise<PushedManifest> {
  const bytes = Buffer.isBuffer(json) ? json : Buffer.from(typeof json === 'string' ? json : JSON.stringify(json));
  const response = expectStatus(await putManifest(url, name, reference, bytes, mediaType), 201, `push manifest ${reference} to ${name}`);
  return { digest: digestOf(bytes), bytes, response };
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function descriptor(mediaType: string, data: Buffer): Descriptor {
  return { mediaType, digest: digestOf(data), size: data.length };
}

export interface Image {
  name: string;
  config: Buffer;
  layer: Buffer;
  configDigest: string;
  layerDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  /** The descriptor an index or a `subject` field uses to point at this image. */
  descriptor: Descriptor;
}

export interface ImageOptions {
  /** Pushed by digest when omitted. */
  tag?: string;
  layerSize?: number;
  annotations?: Record<string, string>;
  /** How the blobs go up; single-post when omitted (distribution 2.8 needs post-put). */
  blobStyle?: MonolithicStyle;
}

/** Pushes a random config and layer, then an OCI image manifest that references them. */
export async function makeImage(url: string, name: string, options: ImageOptions = {}): Promise<Image> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const layer = randomBytes(options.layerSize ?? 1024);
  const configDigest = await pushBlob(url, name, config, options.blobStyle);
  const layerDigest = await pushBlob(url, name, layer, options.blobStyle);
  const manifestJson: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(OCI_CONFIG, config),
    layers: [descriptor(OCI_LAYER, layer)],
  };
  if (options.annotations) manifestJson.annotations = options.annotations;
  const manifest = Buffer.from(JSON.stringify(manifestJson));
  const manifestDigest = digestOf(manifest);
  await pushManifest(url, name, options.tag ?? manifestDigest, manifest, OCI_MANIFEST);
  return { name, config, layer, configDigest, layerDigest, manifest, manifestDigest, descriptor: descriptor(OCI_MANIFEST, manifest) };
}

export { snapshotTree } from './storage-tree.js';
