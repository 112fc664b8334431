import { tryParseDigest } from '../../core/digest.js';
import { mapLimited } from '../concurrency.js';
import type { Driver } from '../driver.js';
import { layout, UPLOADS } from '../layout.js';
import { RepositoryContents } from './repository-contents.js';
import type { StorageStats } from '../types.js';

/** Parallel directory reads: enough to keep the disk and thread pool busy, few enough to leave room for requests. */
const SCAN_CONCURRENCY = 8;

interface RepositoryContent {
  layers: string[];
  manifests: string[];
  tags: number;
}

/**
 * Walks the whole store for the storage gauges. Costly on a large store, so it runs on the
 * metrics reporting interval, never per request; and a blob's size never changes, so sizes are
 * remembered between scans and only blobs not seen before are stat'ed.
 */
export class StorageScanner {
  private readonly knownSizes = new Map<string, number>();
  private readonly contents: RepositoryContents;

  constructor(private readonly driver: Driver) {
    this.contents = new RepositoryContents(driver);
  }

  /** Size of every blob file, by digest; blobs gone since the last scan drop out. */
  private async blobSizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const prefixes: string[] = [];
    for (const algorithm of await this.driver.list('blobs')) {
      for (const prefix of await this.driver.list(`blobs/${algorithm}`)) prefixes.push(`${algorithm}/${prefix}`);
    }
    await mapLimited(prefixes, SCAN_CONCURRENCY, async (algorithmAndPrefix) => {
      const algorithm = algorithmAndPrefix.split('/')[0] as string;
      for (const hex of await this.driver.list(`blobs/${algorithmAndPrefix}`)) {
        const digest = tryParseDigest(`${algorithm}:${hex}`);
        if (!digest) continue;
        const size = this.knownSizes.get(digest.value) ?? (await this.driver.stat(layout.blobData(digest)))?.size;
        if (size !== undefined) sizes.set(digest.value, size);
      }
    });
    this.knownSizes.clear();
    for (const [digest, size] of sizes) this.knownSizes.set(digest, size);
    return sizes;
  }

  private async repositoryContent(repo: string): Promise<RepositoryContent> {
    return {
      layers: (await this.contents.linkedBlobs(repo)).map((digest) => digest.value),
      manifests: (await this.contents.manifests(repo)).map((digest) => digest.value),
      tags: (await this.driver.list(layout.tagsDir(repo))).length,
    };
  }

  async scan(repositories: string[]): Promise<StorageStats> {
    const sizes = await this.blobSizes();
    const contents = await mapLimited(repositories, SCAN_CONCURRENCY, (repo) => this.repositoryContent(repo));
    const manifestDigests = new Set<string>();
    const repositoryBytes = new Map<string, number>();
    let tags = 0;
    repositories.forEach((repo, index) => {
      const content = contents[index] as RepositoryContent;
      content.manifests.forEach((digest) => manifestDigests.add(digest));
      tags += content.tags;
      let bytes = 0;
      for (const digest of new Set([...content.layers, ...content.manifests])) bytes += sizes.get(digest) ?? 0;
      repositoryBytes.set(repo, bytes);
    });
    let manifestBytes = 0;
    let manifestCount = 0;
    for (const digest of manifestDigests) {
      const size = sizes.get(digest);
      if (size === undefined) continue;
      manifestBytes += size;
      manifestCount += 1;
    }
    let totalBytes = 0;
    for (const size of sizes.values()) totalBytes += size;
    return {
      blobs: { count: sizes.size - manifestCount, bytes: totalBytes - manifestBytes },
      manifests: { count: manifestCount, bytes: manifestBytes },
      repositories: repositories.length,
      tags,
      uploads: (await this.driver.list(UPLOADS)).length,
      repositoryBytes,
    };
  }
}
