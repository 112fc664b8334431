import { createHash, randomUUID } from 'node:crypto';
import { MEDIA_TYPES } from '../core/media-types.js';
import type { ContentLedger } from './content-ledger.js';
import type { ExchangeResult } from './http-exchange.js';
import { MANIFEST_ACCEPT } from '../core/media-types.js';
import { CONFIG_MEDIA_TYPE, imageConfig, imageManifest, LAYER_MEDIA_TYPE, manifestTargets, scope, type Descriptor } from './oci.js';
import type { Recorder } from './recorder.js';
import { OperationError, type RegistrySession } from './registry-session.js';
import { smallBlob, type UniqueBlob } from './test-data.js';

/** Monolithic: POST, then one PUT with the whole blob. Streamed: POST, one PATCH streaming it (chunked), then PUT with the digest. */
export type UploadMode = 'monolith' | 'streamed';

const MANIFEST_LIMIT = 4 * 1024 * 1024;

function locationOf(result: ExchangeResult, session: RegistrySession, what: string): URL {
  const location = result.headers.location;
  const value = Array.isArray(location) ? location[0] : location;
  if (value === undefined || value === '') throw new OperationError(`${what} answered ${result.status} without a Location`, false);
  try {
    return new URL(value, session.base);
  } catch {
    throw new OperationError(`${what} answered an unusable Location`, false);
  }
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

export async function uploadBlob(session: RegistrySession, recorder: Recorder, repo: string, blob: UniqueBlob, mode: UploadMode): Promise<void> {
  const pushScope = scope.push(repo);
  const started = await session.send({ method: 'POST', target: `v2/${repo}/blobs/uploads/`, scope: pushScope, what: 'POST blob upload', expect: [202] }, recorder);
  const location = locationOf(started, session, 'POST blob upload');
  if (mode === 'monolith') {
    await session.send(
      {
        method: 'PUT',
        target: withDigest(location, blob.digest),
        scope: pushScope,
        what: 'PUT blob',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        body: blob.chunks,
        expect: [201],
      },
      recorder,
    );
    return;
  }
  const patched = await session.send(
    { method: 'PATCH', target: location, scope: pushScope, what: 'PATCH blob (streamed)', headers: { 'content-type': 'application/octet-stream' }, body: blob.chunks, expect: [202] },
    recorder,
  );
  const next = locationOf(patched, session, 'PATCH blob (streamed)');
  await session.send(
    { method: 'PUT', target: withDigest(next, blob.digest), scope: pushScope, what: 'PUT blob (end of upload)', headers: { 'content-length': '0' }, expect: [201] },
    recorder,
  );
}

export async function putManifest(session: RegistrySession, recorder: Recorder, repo: string, reference: string, manifest: Buffer): Promise<string> {
  await session.send(
    {
      method: 'PUT',
      target: `v2/${repo}/manifests/${reference}`,
      scope: scope.push(repo),
      what: 'PUT manifest',
      headers: { 'content-type': MEDIA_TYPES.ociManifest, 'content-length': String(manifest.length) },
      body: () => [manifest],
      expect: [201],
    },
    recorder,
  );
  return `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

export interface PushedImage {
  repo: string;
  manifestDigest: string;
  manifestSize: number;
  layerBytes: number;
}

/**
 * One image push as a client does it: the layer (monolithic or streamed), a config of its own,
 * and the manifest under `reference` (a tag, or its digest when none is given). What was stored is
 * written in the ledger as soon as it is, so that a push that fails half-way is cleaned up too.
 */
export async function pushImage(
  session: RegistrySession,
  recorder: Recorder,
  ledger: ContentLedger,
  repo: string,
  tag: string | undefined,
  layer: UniqueBlob,
  mode: UploadMode,
  extra: { subject?: Descriptor; artifactType?: string } = {},
): Promise<PushedImage> {
  await uploadBlob(session, recorder, repo, layer, mode);
  ledger.blob(repo, layer.digest);
  const config = smallBlob(imageConfig(randomUUID(), [layer.digest]));
  await uploadBlob(session, recorder, repo, config, 'monolith');
  ledger.blob(repo, config.digest);
  const manifest = imageManifest({ mediaType: CONFIG_MEDIA_TYPE, digest: config.digest, size: config.size }, [{ mediaType: LAYER_MEDIA_TYPE, digest: layer.digest, size: layer.size }], extra);
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  await putManifest(session, recorder, repo, tag ?? digest, manifest);
  ledger.manifest(repo, digest);
  return { repo, manifestDigest: digest, manifestSize: manifest.length, layerBytes: layer.size };
}

/** GET of a blob (every config and layer of a pull), following one redirect to where it is stored (without credentials); its time to first byte includes the redirect. */
export async function getBlob(session: RegistrySession, recorder: Recorder, repo: string, digest: string, what: string): Promise<{ ttfbMs: number; bytes: number }> {
  const first = await session.send({ method: 'GET', target: `v2/${repo}/blobs/${digest}`, scope: scope.pull(repo), what, expect: [200, 302, 303, 307, 308] }, recorder);
  if (first.status === 200) return { ttfbMs: first.ttfbMs, bytes: first.bytesReceived };
  const target = locationOf(first, session, what);
  const second = await session.send({ method: 'GET', target, scope: scope.pull(repo), what: `${what} (redirected)`, expect: [200], anonymous: true }, recorder);
  return { ttfbMs: first.totalMs + second.ttfbMs, bytes: second.bytesReceived };
}

export interface PulledImage {
  manifestDigest: string;
  config: string;
  layers: string[];
}

/**
 * One image pull as containerd does it: HEAD the manifest, GET it, GET the config, GET each layer,
 * every body drained as it arrives. With `timeToFirstByte`, each request's time to its answer's
 * first byte is recorded under its kind. A blob that arrives short or long fails the pull.
 */
export async function pullImage(session: RegistrySession, recorder: Recorder, repo: string, reference: string, timeToFirstByte = true): Promise<PulledImage> {
  const pullScope = scope.pull(repo);
  const target = `v2/${repo}/manifests/${reference}`;
  const head = await session.send({ method: 'HEAD', target, scope: pullScope, what: 'HEAD manifest', headers: { accept: MANIFEST_ACCEPT }, expect: [200] }, recorder);
  if (timeToFirstByte) recorder.ttfb('manifestHead', head.ttfbMs);
  const get = await session.send({ method: 'GET', target, scope: pullScope, what: 'GET manifest', headers: { accept: MANIFEST_ACCEPT }, keepBody: MANIFEST_LIMIT, expect: [200] }, recorder);
  if (timeToFirstByte) recorder.ttfb('manifestGet', get.ttfbMs);
  const body = get.body ?? Buffer.alloc(0);
  let targets: ReturnType<typeof manifestTargets>;
  try {
    targets = manifestTargets(body);
  } catch (err) {
    throw new OperationError(`GET manifest: ${(err as Error).message}`, false);
  }
  const { sizes } = targets;
  const config = await getBlob(session, recorder, repo, targets.config, 'GET config');
  checkSize(sizes, targets.config, config.bytes, 'GET config');
  if (timeToFirstByte) recorder.ttfb('config', config.ttfbMs);
  for (const layer of targets.layers) {
    const fetched = await getBlob(session, recorder, repo, layer, 'GET layer');
    checkSize(sizes, layer, fetched.bytes, 'GET layer');
    if (timeToFirstByte) recorder.ttfb('layer', fetched.ttfbMs);
  }
  const header = get.headers['docker-content-digest'];
  const manifestDigest = typeof header === 'string' && header !== '' ? header : `sha256:${createHash('sha256').update(body).digest('hex')}`;
  return { manifestDigest, config: targets.config, layers: targets.layers };
}

function checkSize(sizes: Map<string, number>, digest: string, bytes: number, what: string): void {
  const expected = sizes.get(digest);
  if (expected !== undefined && expected !== bytes) throw new OperationError(`${what}: ${bytes} bytes arrived of ${expected}`, false);
}
