import { tryParseDigest } from '../../core/digest.js';
import type { Driver } from '../driver.js';
import { layout, UPLOADS } from '../layout.js';
import type { StorageStats } from '../types.js';

/** Digests named by the entries of a `<alg>/<hex>` directory tree (layer links, revisions). */
async function digestsUnder(driver: Driver, dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const algorithm of await driver.list(dir)) {
    for (const hex of await driver.list(`${dir}/${algorithm}`)) {
      const digest = tryParseDigest(`${algorithm}:${hex}`);
      if (digest) found.push(digest.value);
    }
  }
  return found;
}

/** Size of every blob file, by digest. */
async function blobSizes(driver: Driver): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const algorithm of await driver.list('blobs')) {
    for (const prefix of await driver.list(`blobs/${algorithm}`)) {
      for (const hex of await driver.list(`blobs/${algorithm}/${prefix}`)) {
        const digest = tryParseDigest(`${algorithm}:${hex}`);
        if (!digest) continue;
        const info = await driver.stat(layout.blobData(digest));
        if (info) sizes.set(digest.value, info.size);
      }
    }
  }
  return sizes;
}

/**
 * Walks the whole store once: what the storage gauges report. Costly on a large store, so it
 * runs on the metrics reporting interval, never per request.
 */
export async function scanStorage(driver: Driver, repositories: string[]): Promise<StorageStats> {
  const sizes = await blobSizes(driver);
  const manifestDigests = new Set<string>();
  const repositoryBytes = new Map<string, number>();
  let tags = 0;
  for (const repo of repositories) {
    const layers = await digestsUnder(driver, `${layout.repository(repo)}/_layers`);
    const manifests = await digestsUnder(driver, `${layout.manifestsDir(repo)}/revisions`);
    manifests.forEach((digest) => manifestDigests.add(digest));
    tags += (await driver.list(layout.tagsDir(repo))).length;
    const referenced = new Set([...layers, ...manifests]);
    let bytes = 0;
    for (const digest of referenced) bytes += sizes.get(digest) ?? 0;
    repositoryBytes.set(repo, bytes);
  }
  let manifestBytes = 0;
  let manifestCount = 0;
  for (const digest of manifestDigests) {
    const size = sizes.get(digest);
    if (size === undefined) continue;
    manifestBytes += size;
    manifestCount += 1;
  }
  const totalBytes = [...sizes.values()].reduce((sum, size) => sum + size, 0);
  return {
    blobs: { count: sizes.size - manifestCount, bytes: totalBytes - manifestBytes },
    manifests: { count: manifestCount, bytes: manifestBytes },
    repositories: repositories.length,
    tags,
    uploads: (await driver.list(UPLOADS)).length,
    repositoryBytes,
  };
}
