import type { Digest } from '../core/digest.js';

/**
 * Where each thing lives under the storage root. Names and digests are validated before they
 * reach here, and repository name components never start with '_', so the '_'-prefixed
 * directories inside a repository can never collide with a nested repository.
 *
 *   blobs/<alg>/<hex[0..2]>/<hex>/data                       content, shared by all repositories
 *   repositories/<name>/_layers/<alg>/<hex>                  blob linked into the repository
 *   repositories/<name>/_manifests/revisions/<alg>/<hex>     manifest in the repository (holds its media type)
 *   repositories/<name>/_manifests/tags/<tag>                tag (holds the manifest digest)
 *   repositories/<name>/_manifests/accessed/<alg>/<hex>      when a cached manifest was last pulled (its mtime)
 *   repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>   referrer of a subject (holds its descriptor)
 *   uploads/<id>/info.json, uploads/<id>/data                upload sessions in progress
 *   uploads/<id>/chunks/<start>-<length>                     their chunks instead of data, on an object store
 *   completed-uploads/<id>                                   what a finished session stored, for a retried PUT
 *   jobs/<action>.lock                                       held while a batch job runs (storage-lock.ts)
 *   jobs/history/<ended ms>-<action>-<rand>.json             the record of a job run; the newest 1000 are kept (jobs/run-records.ts)
 *   replicas/<id>.json                                       the heartbeat of a serving process (management/replica-heartbeat.ts)
 *   changes                                                  one byte CLI jobs rewrite to tell serve of their changes (filesystem/fs-change-feed.ts)
 *
 * Garbage collection parks what it is about to remove under a '.collecting-' name beside it
 * (blob directories, layer links, manifest revisions), and pruning parks blob directories under a
 * '.pruning-' name, while each checks that nobody still uses them; a request that finds content
 * parked puts it back (see parking.ts). Scrub's repair moves a corrupt blob's directory to a
 * '.scrub-' name for its second look; requests never take content back from there. None of these
 * names parses as a digest, so listings skip them.
 */
export const REPOSITORIES = 'repositories';
export const BLOBS = 'blobs';

/** Whether the storage path `path` is `directory` or lies under it; the root ('' or '.') lies under nothing. */
export function isAtOrUnder(path: string, directory: string): boolean {
  return path === directory || path.startsWith(`${directory}/`);
}

/** Whether a storage path names the root itself, which holds everything. */
export function isStorageRoot(path: string): boolean {
  return path === '' || path === '.';
}
export const UPLOADS = 'uploads';
export const COMPLETED_UPLOADS = 'completed-uploads';
/** Records of job runs, written by whichever process ran them (serve or the CLI) and listed by serve. */
export const JOB_RUNS = 'jobs/history';
/** Heartbeats of the serving processes on this storage. */
export const REPLICAS = 'replicas';
export const PRUNING_PREFIX = '.pruning-';
export const COLLECTING_PREFIX = '.collecting-';
/** Where scrub's repair moves a corrupt blob's directory before its second look (jobs/scrub/repair.ts). */
export const QUARANTINE_PREFIX = '.scrub-';

export const layout = {
  blobData: (d: Digest) => `blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}/data`,
  repository: (repo: string) => `${REPOSITORIES}/${repo}`,
  blobLink: (repo: string, d: Digest) => `${REPOSITORIES}/${repo}/_layers/${d.algorithm}/${d.hex}`,
  manifestRevision: (repo: string, d: Digest) => `${REPOSITORIES}/${repo}/_manifests/revisions/${d.algorithm}/${d.hex}`,
  manifestsDir: (repo: string) => `${REPOSITORIES}/${repo}/_manifests`,
  revisionsDir: (repo: string) => `${REPOSITORIES}/${repo}/_manifests/revisions`,
  layersDir: (repo: string) => `${REPOSITORIES}/${repo}/_layers`,
  manifestAccess: (repo: string, d: Digest) => `${REPOSITORIES}/${repo}/_manifests/accessed/${d.algorithm}/${d.hex}`,
  blobDir: (d: Digest) => `blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`,
  /** Where pruning parks a blob's directory while it checks nobody links it (see repository-contents.ts). */
  blobPruning: (d: Digest) => `blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${PRUNING_PREFIX}${d.hex}`,
  /** Where garbage collection parks a blob's directory, a layer link or a manifest revision while it checks nobody uses it (see gc-sweep.ts). */
  blobQuarantine: (d: Digest) => `blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${QUARANTINE_PREFIX}${d.hex}`,
  blobCollecting: (d: Digest) => `blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${COLLECTING_PREFIX}${d.hex}`,
  blobLinkCollecting: (repo: string, d: Digest) => `${REPOSITORIES}/${repo}/_layers/${d.algorithm}/${COLLECTING_PREFIX}${d.hex}`,
  revisionCollecting: (repo: string, d: Digest) => `${REPOSITORIES}/${repo}/_manifests/revisions/${d.algorithm}/${COLLECTING_PREFIX}${d.hex}`,
  tagsDir: (repo: string) => `${REPOSITORIES}/${repo}/_manifests/tags`,
  tag: (repo: string, tag: string) => `${REPOSITORIES}/${repo}/_manifests/tags/${tag}`,
  referrersOf: (repo: string, subject: Digest) => `${REPOSITORIES}/${repo}/_referrers/${subject.algorithm}/${subject.hex}`,
  referrer: (repo: string, subject: Digest, referrer: Digest) =>
    `${REPOSITORIES}/${repo}/_referrers/${subject.algorithm}/${subject.hex}/${referrer.algorithm}-${referrer.hex}`,
  upload: (id: string) => `${UPLOADS}/${id}`,
  uploadData: (id: string) => `${UPLOADS}/${id}/data`,
  uploadInfo: (id: string) => `${UPLOADS}/${id}/info.json`,
  /** Where a driver without file operations keeps a session's chunks, one object each (chunked-upload-data.ts). */
  uploadChunks: (id: string) => `${UPLOADS}/${id}/chunks`,
  completedUpload: (id: string) => `${COMPLETED_UPLOADS}/${id}`,
  jobLock: (action: string) => `jobs/${action}.lock`,
  jobRunsDir: () => JOB_RUNS,
  jobRun: (name: string) => `${JOB_RUNS}/${name}`,
  replicasDir: () => REPLICAS,
  replica: (id: string) => `${REPLICAS}/${id}.json`,
};

/** Directory names inside a repository directory that mark it as one. */
export const REPOSITORY_MARKERS = ['_manifests', '_layers'] as const;
