import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GcSummary } from '../../src/jobs/gc.js';
import { raw } from '../helpers/raw-http.js';
import { descriptor, digestOf, expectStatus, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, pushManifest, type Descriptor } from '../helpers/registry-client.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { backdate } from '../helpers/behind-porthole.js';
import { blobDataFiles } from '../helpers/storage-tree.js';

export const HOUR_MS = 3_600_000;

/** What `porthole gc` prints on stdout: the run, as one JSON line. */
export type GcLine = GcSummary & {
  action: string;
  outcome: string;
  seconds: number;
  error?: string;
};

export interface GcRun extends CliResult {
  line: GcLine;
}

/** Runs `porthole gc` with a configuration file and flags; the JSON line parsed (empty when there is none). */
export async function runGc(configFile: string, ...flags: string[]): Promise<GcRun> {
  const result = await runCli(['gc', '--config', configFile, '--log-level', 'warn', ...flags]);
  const last = result.stdout.trim().split('\n').at(-1) ?? '';
  return { ...result, line: (last.startsWith('{') ? JSON.parse(last) : {}) as GcLine };
}

/** A configuration file for storage at `root`, with more YAML lines. */
export async function gcConfigFile(work: string, name: string, root: string, extra: string[] = []): Promise<string> {
  const file = join(work, `${name}.yaml`);
  await writeFile(file, [`storage: { rootDirectory: "${root}" }`, ...extra, ''].join('\n'));
  return file;
}

/** Sets the mtime of every file of the blob store and the repositories `ageMs` into the past, as if written then and never used since. */
export async function ageStorage(root: string, ageMs: number): Promise<void> {
  const files: string[] = [];
  const collect = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await collect(path);
      else files.push(path);
    }
  };
  await collect(join(root, 'blobs'));
  await collect(join(root, 'repositories'));
  await backdate(root, files, ageMs);
}

/** Every digest whose data is in the blob store (blobs and manifests' bytes). */
export async function storedDigests(root: string): Promise<Set<string>> {
  return new Set((await blobDataFiles(root)).map((blob) => `${blob.algorithm}:${blob.hex}`));
}

/** A random blob of `size` bytes. */
export function randomBlob(size = 2048): Buffer {
  return randomBytes(size);
}

/** An image pushed through the API: its manifest's digest, the digests of its config and layers, and the size of each. */
export interface PushedImage {
  digest: string;
  blobs: string[];
  /** Bytes of the manifest and of each blob, by digest. */
  sizes: Map<string, number>;
  descriptor: Descriptor;
}

export interface ImageParts {
  config: Buffer;
  layers: Buffer[];
  configType?: string;
  artifactType?: string;
  subject?: Descriptor;
}

/** Pushes the blobs of an image and then its OCI manifest under `reference` (a tag, or its digest when omitted). */
export async function pushImage(url: string, repo: string, parts: ImageParts, reference?: string): Promise<PushedImage> {
  for (const blob of [parts.config, ...parts.layers]) await pushBlob(url, repo, blob);
  const json: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(parts.configType ?? OCI_CONFIG, parts.config),
    layers: parts.layers.map((layer) => descriptor(OCI_LAYER, layer)),
  };
  if (parts.artifactType !== undefined) json.artifactType = parts.artifactType;
  if (parts.subject !== undefined) json.subject = parts.subject;
  const bytes = Buffer.from(JSON.stringify(json));
  const pushed = await pushManifest(url, repo, reference ?? digestOf(bytes), bytes, OCI_MANIFEST);
  const blobs = [parts.config, ...parts.layers];
  const sizes = new Map([[pushed.digest, bytes.length], ...blobs.map((blob): [string, number] => [digestOf(blob), blob.length])]);
  return { digest: pushed.digest, blobs: blobs.map((blob) => digestOf(blob)), sizes, descriptor: descriptor(OCI_MANIFEST, bytes) };
}

/** DELETE /v2/<repo>/manifests/<reference>: a tag goes alone, a digest takes its manifest (and tags) with it. */
export async function deleteReference(url: string, repo: string, reference: string): Promise<void> {
  expectStatus(await raw(url, { method: 'DELETE', path: `/v2/${repo}/manifests/${reference}` }), 202, `DELETE ${repo}:${reference}`);
}

/** The status of a HEAD of a blob in a repository. */
export async function headBlob(url: string, repo: string, digest: string): Promise<number> {
  return (await raw(url, { method: 'HEAD', path: `/v2/${repo}/blobs/${digest}` })).status;
}

/** The status of a GET of a manifest (any media type porthole stores). */
export async function getManifestStatus(url: string, repo: string, reference: string): Promise<number> {
  return (await raw(url, { path: `/v2/${repo}/manifests/${reference}`, headers: { accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json` } })).status;
}
