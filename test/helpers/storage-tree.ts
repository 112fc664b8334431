import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The staging directory of atomic writes: its content is transient by design, and cleared at startup. */
const STAGING_DIR = '_tmp';

/** What a directory maps to in a snapshot, so that an empty directory left behind is a change too. */
export const DIRECTORY = 'directory';

export async function sha256File(path: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every path below `relative`, relative to the storage root, '/'-separated, directories included. */
async function walk(root: string, relative: string, into: Array<{ path: string; isDirectory: boolean }>): Promise<void> {
  let entries;
  try {
    entries = await readdir(join(root, relative), { withFileTypes: true });
  } catch (err) {
    // A directory removed while the walk was on its way to it (an upload session being
    // discarded by a running server): it is not there, as if the walk had come a moment later.
    if (relative !== '' && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) {
    const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (path === STAGING_DIR || BOOKKEEPING.some((pattern) => pattern.test(path))) continue;
    into.push({ path, isDirectory: entry.isDirectory() });
    if (entry.isDirectory()) await walk(root, path, into);
  }
}

/** The directory of batch jobs' locks (layout.jobLock): the first job run creates it, and it stays. */
const JOB_LOCKS_DIR = 'jobs';

/**
 * Records about processes rather than registry content: the records of job runs (a dry run
 * writes one too), the replicas' heartbeats (rewritten every few seconds while serve runs) and
 * the marker CLI jobs announce their changes on (storage/filesystem/fs-change-feed.ts).
 */
const BOOKKEEPING = [/^jobs\/history(\/|$)/, /^replicas(\/|$)/, /^changes$/];

/**
 * Every file under the storage root (the `_tmp` staging dir excluded) mapped to its sha256, and
 * every directory to DIRECTORY, sorted by path: two snapshots are equal exactly when nothing on
 * disk changed. Compare them with assert.deepStrictEqual. The jobs' lock directory is left out,
 * but not a lock file in it: a run that leaves its lock behind shows. Bookkeeping (the records of
 * job runs, the replicas' heartbeats) is left out.
 */
export async function snapshotTree(root: string): Promise<Map<string, string>> {
  const entries: Array<{ path: string; isDirectory: boolean }> = [];
  await walk(root, '', entries);
  const lockDir = entries.findIndex((entry) => entry.path === JOB_LOCKS_DIR && entry.isDirectory);
  if (lockDir !== -1) entries.splice(lockDir, 1);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const snapshot = new Map<string, string>();
  for (const { path, isDirectory } of entries) snapshot.set(path, isDirectory ? DIRECTORY : await sha256File(join(root, path)));
  return snapshot;
}

/** The files of blobs/<alg>/<xx>/<hex>/data with the digest their directory names. */
export async function blobDataFiles(root: string): Promise<Array<{ path: string; algorithm: 'sha256' | 'sha512'; hex: string }>> {
  const files: Array<{ path: string; isDirectory: boolean }> = [];
  await walk(root, '', files);
  return files
    .filter((entry) => !entry.isDirectory && entry.path.startsWith('blobs/'))
    .map((entry) => {
      const match = /^blobs\/(sha256|sha512)\/([0-9a-f]{2})\/([0-9a-f]+)\/data$/.exec(entry.path);
      const hex = match?.[3];
      if (!match || !hex?.startsWith(match[2] as string)) throw new Error(`unexpected file in the blob store: ${entry.path}`);
      return { path: entry.path, algorithm: match[1] as 'sha256' | 'sha512', hex };
    });
}

export interface TreeDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** What changed between two snapshots, for a failure message that names paths, not whole trees. */
export function diffTrees(before: Map<string, string>, after: Map<string, string>): TreeDiff {
  return {
    added: [...after.keys()].filter((path) => !before.has(path)),
    removed: [...before.keys()].filter((path) => !after.has(path)),
    changed: [...after.keys()].filter((path) => before.has(path) && before.get(path) !== after.get(path)),
  };
}

/** What the storage gauges should report, counted from the files under a storage root. */
export interface StorageCensus {
  blob: { count: number; bytes: number };
  manifest: { count: number; bytes: number };
  repository: number;
  tag: number;
  upload: number;
  /** Per repository: bytes of the distinct blobs and manifests it links. */
  repositoryBytes: Map<string, number>;
}

const BLOB_DATA = /^blobs\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/;
const REPOSITORY_LINK = /^repositories\/(.+)\/(_layers|_manifests\/revisions)\/([a-z0-9]+)\/([0-9a-f]+)$/;
const TAG_FILE = /^repositories\/(.+)\/_manifests\/tags\/[^/]+$/;
const UPLOAD_DIR = /^uploads\/[^/]+$/;

/**
 * Counts the store from its layout (docs/storage.md), independently of porthole's own scan: a
 * blob is a blobs/.../data file that no repository links as a manifest revision; a repository is
 * a directory with layer links or manifest revisions.
 */
export async function storageCensus(root: string): Promise<StorageCensus> {
  const entries: Array<{ path: string; isDirectory: boolean }> = [];
  await walk(root, '', entries);
  const sizes = new Map<string, number>();
  const manifests = new Set<string>();
  const linksByRepository = new Map<string, Set<string>>();
  let tag = 0;
  let upload = 0;
  for (const { path, isDirectory } of entries) {
    const blob = BLOB_DATA.exec(path);
    if (blob && !isDirectory) sizes.set(`${blob[1]}:${blob[2]}`, (await stat(join(root, path))).size);
    const link = REPOSITORY_LINK.exec(path);
    if (link && !isDirectory) {
      const [, repository = '', kind, algorithm, hex] = link;
      const digest = `${algorithm ?? ''}:${hex ?? ''}`;
      if (kind === '_manifests/revisions') manifests.add(digest);
      const links = linksByRepository.get(repository) ?? new Set<string>();
      linksByRepository.set(repository, links.add(digest));
    }
    if (TAG_FILE.test(path) && !isDirectory) tag += 1;
    if (UPLOAD_DIR.test(path)) upload += 1;
  }
  const census: StorageCensus = { blob: { count: 0, bytes: 0 }, manifest: { count: 0, bytes: 0 }, repository: linksByRepository.size, tag, upload, repositoryBytes: new Map() };
  for (const [digest, size] of sizes) {
    const kind = manifests.has(digest) ? census.manifest : census.blob;
    kind.count += 1;
    kind.bytes += size;
  }
  for (const [repository, links] of linksByRepository) {
    census.repositoryBytes.set(repository, [...links].reduce((total, digest) => total + (sizes.get(digest) ?? 0), 0));
  }
  return census;
}
