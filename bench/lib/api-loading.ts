import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { raw } from '../../test/helpers/raw-http.js';
import { expectStatus, makeImage, OCI_MANIFEST, pushBlob, type Image } from '../../test/helpers/registry-client.js';
import { forEachBounded } from './bounded.js';

/**
 * Content put into a registry through the Distribution API, the same way for both: blobs go up as
 * POST then PUT with the body (distribution 2.8 has no single-POST upload), manifests with PUT.
 */

/** What the GET figures fetch from one registry. */
export interface GetFixtures {
  repo: string;
  tag: string;
  manifestDigest: string;
  /** A small (1 KiB) blob, for HEAD. */
  layerDigest: string;
  mebibyteBlobDigest: string;
  largeBlobDigest: string;
}

export const GET_REPO = 'bench/app';

/** One small image tagged v1, and two more blobs in its repository: 1 MiB and the large one. */
export async function loadGetFixtures(url: string, blobs: { mebibyte: Buffer; large: Buffer }): Promise<GetFixtures> {
  const image = await makeImage(url, GET_REPO, { tag: 'v1', blobStyle: 'post-put' });
  return {
    repo: GET_REPO,
    tag: 'v1',
    manifestDigest: image.manifestDigest,
    layerDigest: image.layerDigest,
    mebibyteBlobDigest: await pushBlob(url, GET_REPO, blobs.mebibyte, 'post-put'),
    largeBlobDigest: await pushBlob(url, GET_REPO, blobs.large, 'post-put'),
  };
}

export function repositoryName(index: number): string {
  return `bench/repos/r${String(index).padStart(5, '0')}`;
}

export const TAGS_REPO = 'bench/tags';

export function tagName(index: number): string {
  return `t${String(index).padStart(4, '0')}`;
}

/** Loads many repositories or tags over keep-alive connections, `concurrency` requests at a time. */
class ApiLoader {
  private readonly agent: Agent;

  constructor(
    private readonly url: string,
    private readonly base: Image,
    concurrency: number,
  ) {
    // Keep-alive: tens of thousands of requests on fresh connections would run loopback out of ports.
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  }

  /** Cross-repository mount of the base image's blobs (201: no byte is uploaded again). */
  async mountBase(repo: string): Promise<void> {
    for (const digest of [this.base.configDigest, this.base.layerDigest]) {
      const path = `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${this.base.name}`;
      expectStatus(await raw(this.url, { method: 'POST', path, headers: { 'content-length': 0 }, agent: this.agent }), 201, `mount ${digest} into ${repo}`);
    }
  }

  async putBaseManifest(repo: string, reference: string): Promise<void> {
    const headers = { 'content-type': OCI_MANIFEST, 'content-length': this.base.manifest.length };
    const response = await raw(this.url, { method: 'PUT', path: `/v2/${repo}/manifests/${reference}`, headers, body: this.base.manifest, agent: this.agent });
    expectStatus(response, 201, `put manifest ${repo}:${reference}`);
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface ListingLoadTimes {
  /** Seconds to create every repository (two mounts and a manifest PUT each). */
  repositories: number;
  /** Seconds to tag one manifest `tags` times. */
  tags: number;
}

/** `repositories` repositories each holding the same small image as v1, and one repository with `tags` tags. */
export async function loadListings(url: string, counts: { repositories: number; tags: number; concurrency: number }): Promise<ListingLoadTimes> {
  const base = await makeImage(url, 'bench/base', { tag: 'v1', blobStyle: 'post-put' });
  const loader = new ApiLoader(url, base, counts.concurrency);
  try {
    let started = performance.now();
    await forEachBounded(counts.repositories, counts.concurrency, async (index) => {
      const repo = repositoryName(index);
      await loader.mountBase(repo);
      await loader.putBaseManifest(repo, 'v1');
    });
    const repositories = (performance.now() - started) / 1000;
    started = performance.now();
    await loader.mountBase(TAGS_REPO);
    await forEachBounded(counts.tags, counts.concurrency, (index) => loader.putBaseManifest(TAGS_REPO, tagName(index)));
    return { repositories, tags: (performance.now() - started) / 1000 };
  } finally {
    loader.close();
  }
}
