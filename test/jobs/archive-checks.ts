import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../e2e/run-command.js';
import { raw } from '../helpers/raw-http.js';
import { OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST } from '../helpers/registry-client.js';
import { DIRECTORY, snapshotTree } from '../helpers/storage-tree.js';

/**
 * What the backup and restore tests check archives and registries with: the content files of a
 * storage root, a registry walk that proves an image whole (every manifest and blob fetched and
 * hashed), the run line a job command prints, and the files a CLI job is configured with.
 */

const ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');

/** The line a job command prints on stdout. */
export interface RunLine {
  action: string;
  outcome: string;
  error?: string;
  [field: string]: unknown;
}

export function runLine(stdout: string): RunLine {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as RunLine;
}

/**
 * A configuration file for CLI jobs on `root`, auditing to `audit` (the job.backup and
 * job.restore lines), logging at info so that kept tags show.
 */
export async function jobConfig(dir: string, name: string, root: string, audit: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, `storage: { rootDirectory: "${root}" }\nlog: { level: info, audit: "${audit}" }\n`);
  return file;
}

/**
 * Every file of a storage root that is registry content, mapped to its sha256: blob data,
 * repository links, tags, referrers. Left out: when manifests were last pulled (_manifests/accessed),
 * upload sessions, staging, locks. Two registries with equal maps hold the same content.
 */
export async function contentFiles(root: string): Promise<Map<string, string>> {
  const content = new Map<string, string>();
  for (const [path, hash] of await snapshotTree(root)) {
    if (hash === DIRECTORY || !/^(blobs|repositories)\//.test(path) || path.includes('/_manifests/accessed/')) continue;
    content.set(path, hash);
  }
  return content;
}

/** Tags present on disk for `repo` under `root` (what a client would be shown). */
export async function tagsOnDisk(root: string, repo: string): Promise<string[]> {
  return (await readdir(join(root, 'repositories', repo, '_manifests', 'tags')).catch(() => [] as string[])).sort();
}

/** Manifest digests present (revision links) in `repo` under `root`. */
export async function revisionsOnDisk(root: string, repo: string): Promise<string[]> {
  const dir = join(root, 'repositories', repo, '_manifests', 'revisions', 'sha256');
  return (await readdir(dir).catch(() => [] as string[])).map((hex) => `sha256:${hex}`).sort();
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface ManifestJson {
  mediaType?: string;
  config?: { digest: string };
  layers?: Array<{ digest: string; urls?: string[] }>;
  manifests?: Array<{ digest: string }>;
}

/**
 * Fetches `reference` of `repo` from the registry and everything it needs (an index's children,
 * config and layers), checking each against its digest: resolves with the manifest's digest when
 * the image is whole, throws naming what is missing or wrong.
 */
export async function assertWhole(url: string, repo: string, reference: string): Promise<string> {
  const response = await raw(url, { path: `/v2/${repo}/manifests/${reference}`, headers: { accept: ACCEPT } });
  assert.equal(response.status, 200, `GET ${repo}:${reference}: ${response.status} ${response.body.toString('utf8').slice(0, 200)}`);
  const digest = sha256(response.body);
  if (reference.includes(':')) assert.equal(digest, reference, `${repo}@${reference} came back with other bytes`);
  const manifest = JSON.parse(response.body.toString('utf8')) as ManifestJson;
  for (const child of manifest.manifests ?? []) await assertWhole(url, repo, child.digest);
  const blobs = [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? []).filter((layer) => !layer.urls?.length)];
  for (const blob of blobs) {
    const got = await raw(url, { path: `/v2/${repo}/blobs/${blob.digest}` });
    assert.equal(got.status, 200, `blob ${blob.digest} of ${repo}:${reference}: ${got.status}`);
    assert.equal(sha256(got.body), blob.digest, `blob ${blob.digest} of ${repo}:${reference} came back with other bytes`);
  }
  return digest;
}

/** The audit lines of a job (`job.backup`), parsed. */
export async function auditLines(file: string, action: string): Promise<Array<{ action: string; outcome: string; detail: string }>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { action: string; outcome: string; detail: string })
    .filter((line) => line.action === action);
}

/** A copy of `file` with one byte flipped at `offset`. */
export async function withFlippedByte(file: string, offset: number, into: string): Promise<string> {
  const bytes = await readFile(file);
  bytes[offset] = (bytes[offset] as number) ^ 0x01;
  await writeFile(into, bytes);
  return into;
}

/** A copy of the first `length` bytes of `file`. */
export async function truncatedCopy(file: string, length: number, into: string): Promise<string> {
  await writeFile(into, (await readFile(file)).subarray(0, length));
  return into;
}

/** One entry of a tar, as GNU tar lists it. */
export interface TarListing {
  name: string;
  size: number;
  /** Byte offset of the entry's data in the (uncompressed) tar. */
  dataOffset: number;
}

/** The entries of an archive, in order, read by GNU tar itself (which decompresses gzip and zstd on its own). */
export async function tarListing(file: string): Promise<TarListing[]> {
  const { stdout } = await runCommand('tar', ['-tvRf', file]);
  return stdout
    .split('\n')
    .map((line) => /^block (\d+): \S+ \S+\s+(\d+) \S+ \S+ (.+)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ name: match[3] as string, size: Number(match[2]), dataOffset: (Number(match[1]) + 1) * 512 }));
}
