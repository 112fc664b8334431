import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startApiExporter, type ApiExporterProcess } from '../helpers/api-exporter-process.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { raw } from '../helpers/raw-http.js';
import { expectStatus, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST } from '../helpers/registry-client.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { DistributionStorageWriter } from './distribution-storage.js';
import { OTHER } from './exporter-figures.js';

/**
 * porthole-exporter's API mode on a large catalog: docker-registry with 2,000 repositories of
 * 5 tags each, every tag its own manifest (10,000 distinct manifests, one shared config and layer).
 * The content is written straight into docker-registry's filesystem storage (seconds, where
 * pushing takes minutes) and read back through its API first. That storage is on tmpfs
 * (/dev/shm) where there is one: its 150,000 inodes take 4 s to write there and 40 s on this
 * machine's ext4, and the disk is not what this suite is about. docker-registry's access log tells
 * what the exporter asked: the second collection must fetch no manifest (tags are checked with
 * HEAD, each tag list read once), and the exporter's memory stays under 150 MB.
 */

const REPOSITORIES = 2_000;
const TAGS = 5;
const MEMORY_LIMIT = 150 * 1024 * 1024;
/**
 * Short: the first collection (10,000 HEADs and GETs) takes longer, and the next starts as soon as
 * it ends (the interval is measured start to start, without overlap), which keeps the suite short.
 * Collections are told apart in the access log by the GET /v2/ each one starts with.
 */
const INTERVAL = '5s';
/** Bounds for a busy 2-core machine: the first collection has taken 41 s there. */
const FIRST_COLLECTION_MS = 120_000;
const SECOND_COLLECTION_MS = 90_000;

const repositoryName = (i: number): string => `scale/repo-${String(i).padStart(4, '0')}`;
const tagName = (t: number): string => `tag-${t}`;

interface AccessLine {
  method: string;
  path: string;
  status: number;
  userAgent: string;
}

/** Method, path, status and user agent of a combined-format line. */
const ACCESS = /"([A-Z]+) (\/v2\/\S*) HTTP\/[0-9.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"/;

/** docker-registry's access log (combined format) in `text`, request by request. */
function accessLines(text: string): AccessLine[] {
  return text.split('\n').flatMap((line) => {
    const match = ACCESS.exec(line);
    return match ? [{ method: match[1] as string, path: match[2] as string, status: Number(match[3]), userAgent: match[4] as string }] : [];
  });
}

const isManifest = (line: AccessLine): boolean => /^\/v2\/.+\/manifests\/[^/]+$/.test(line.path);
const isTagList = (line: AccessLine): boolean => /^\/v2\/.+\/tags\/list(\?.*)?$/.test(line.path);
const isPing = (line: AccessLine): boolean => line.method === 'GET' && line.path === '/v2/';
/** The synthetic probe's requests say so in their User-Agent (`porthole-exporter/VERSION (probe)`). */
const isProbe = (line: AccessLine): boolean => line.userAgent.endsWith('(probe)');

interface Tally {
  /** Manifest GETs of the collection itself, the probe's left out. */
  manifestGets: number;
  probeManifestGets: number;
  manifestHeads: number;
  tagLists: number;
  catalogPages: number;
  blobHeads: number;
  all: number;
}

function tally(lines: AccessLine[]): Tally {
  return {
    manifestGets: lines.filter((line) => line.method === 'GET' && isManifest(line) && !isProbe(line)).length,
    probeManifestGets: lines.filter((line) => line.method === 'GET' && isManifest(line) && isProbe(line)).length,
    manifestHeads: lines.filter((line) => line.method === 'HEAD' && isManifest(line)).length,
    tagLists: lines.filter((line) => line.method === 'GET' && isTagList(line)).length,
    catalogPages: lines.filter((line) => line.path.startsWith('/v2/_catalog')).length,
    blobHeads: lines.filter((line) => line.method === 'HEAD' && line.path.includes('/blobs/')).length,
    all: lines.length,
  };
}

/** The requests of each collection: the access log cut at every GET /v2/ (each collection's first request). */
function collectionsIn(lines: AccessLine[]): AccessLine[][] {
  const collections: AccessLine[][] = [];
  for (const line of lines) {
    if (isPing(line)) collections.push([]);
    collections[collections.length - 1]?.push(line);
  }
  return collections;
}

describe('porthole-exporter api: 2,000 repositories x 5 tags', { timeout: 240_000, skip: skipUnlessTools('docker-registry') }, () => {
  let dir: string;
  let registry: DistributionProcess;
  let exporter: ApiExporterProcess;
  let repositorySize = 0;
  let populateMs = 0;

  before(async () => {
    const started = Date.now();
    dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'porthole-api-scale-'));
    const writer = new DistributionStorageWriter(dir);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = randomBytes(4096);
    const configDigest = writer.blob(config);
    const layerDigest = writer.blob(layer);
    const manifestBytes = new Set<number>();
    for (let i = 0; i < REPOSITORIES; i++) {
      const repository = repositoryName(i);
      writer.layer(repository, configDigest);
      writer.layer(repository, layerDigest);
      for (let t = 0; t < TAGS; t++) {
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
            layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: layer.length }],
            annotations: { 'org.example.repository': repository, 'org.example.tag': tagName(t) },
          }),
        );
        writer.manifest(repository, tagName(t), manifest);
        manifestBytes.add(manifest.length);
      }
    }
    // Same-width names and tags: every manifest has the same length, every repository the same size.
    assert.equal(manifestBytes.size, 1);
    repositorySize = config.length + layer.length + TAGS * ([...manifestBytes][0] as number);
    await writer.flush();
    registry = await startDistribution({ root: dir, accessLog: true });
    populateMs = Date.now() - started;

    // Read back through the API: the storage is docker-registry's, not only the test's idea of it.
    // docker-registry pages the catalog by 1,000 at most (catalog.maxentries): follow its Link headers.
    const names: string[] = [];
    for (let path: string | undefined = '/v2/_catalog?n=1000'; path !== undefined; ) {
      const page = expectStatus(await raw(registry.url, { path, timeoutMs: 30_000 }), 200, `catalog ${path}`);
      names.push(...(page.json() as { repositories: string[] }).repositories);
      const link = page.headers.link;
      path = typeof link === 'string' ? /<([^>]+)>/.exec(link)?.[1] : undefined;
    }
    assert.deepEqual(names, Array.from({ length: REPOSITORIES }, (_, i) => repositoryName(i)));
    const last = repositoryName(REPOSITORIES - 1);
    const tags = expectStatus(await raw(registry.url, { path: `/v2/${last}/tags/list` }), 200, 'tags list').json() as { tags: string[] };
    assert.deepEqual(tags.tags.sort(), Array.from({ length: TAGS }, (_, t) => tagName(t)));
    const manifest = expectStatus(await raw(registry.url, { path: `/v2/${last}/manifests/${tagName(TAGS - 1)}`, headers: { accept: OCI_MANIFEST } }), 200, 'manifest');
    assert.equal((manifest.json() as { annotations: Record<string, string> }).annotations['org.example.tag'], tagName(TAGS - 1));
    expectStatus(await raw(registry.url, { method: 'HEAD', path: `/v2/${last}/blobs/${layerDigest}` }), 200, 'blob');
  });

  after(async () => {
    await exporter?.dispose();
    // The root is the test's own (given as `root`): dispose leaves it.
    await registry?.dispose();
    // GNU rm is several times faster than fs.rm on 150,000 entries.
    if (dir) await promisify(execFile)('rm', ['-rf', '--', dir], { timeout: 60_000 });
  });

  it('populates in well under a minute', () => {
    assert.ok(populateMs < 60_000, `populate took ${populateMs} ms`);
  });

  it('the second collection fetches no manifest; RSS stays under 150 MB; the figures are exact', async () => {
    // Only what the exporter asks counts: docker-registry's own readiness check and the read-back are before this.
    const logStart = registry.output().length;
    const requests = (): AccessLine[] => accessLines(registry.output().slice(logStart));
    exporter = await startApiExporter({ connectionString: registry.url, args: ['--interval', INTERVAL, '--timeout', `${FIRST_COLLECTION_MS / 1000}s`, '--enable-tls=false'] });
    const startedAt = Date.now();

    const first = await exporter.collections(1, FIRST_COLLECTION_MS);
    const firstMs = Date.now() - startedAt;
    assert.equal(first.value('oci_registry_up'), 1, `the first collection succeeded:\n${exporter.output().slice(-3000)}`);

    // Exact figures, bounded label: 1,000 repositories of their own (all the same size), the rest as _other.
    assert.equal(first.value('oci_registry_repositories'), REPOSITORIES);
    assert.equal(first.value('oci_registry_tags'), REPOSITORIES * TAGS);
    assert.equal(first.value('oci_registry_manifests', { media_type: 'image' }), REPOSITORIES * TAGS);
    const sizes = first.byLabel('oci_registry_repository_size_bytes', 'repository');
    assert.equal(Object.keys(sizes).length, 1000 + 1, 'the default --max-repositories is 1000, plus _other');
    assert.equal(sizes[OTHER], (REPOSITORIES - 1000) * repositorySize);
    assert.deepEqual(new Set(Object.entries(sizes).filter(([name]) => name !== OTHER).map(([, size]) => size)), new Set([repositorySize]));

    const second = await exporter.collections(2, SECOND_COLLECTION_MS);
    const secondMs = Date.now() - startedAt - firstMs;
    assert.equal(second.value('oci_registry_up'), 1);
    assert.equal(second.value('oci_registry_tags'), REPOSITORIES * TAGS);
    // Its last requests (the probe) may still be on their way into the log: wait for all its HEADs, bounded.
    await exporter.scrapeUntil('the second collection in the access log', () => (collectionsIn(requests())[1] ?? []).filter((line) => line.method === 'HEAD' && isManifest(line)).length >= REPOSITORIES * TAGS, 10_000).catch(() => undefined);
    const memory = await exporter.memory();
    const [firstRequests, secondRequests] = collectionsIn(requests()).map(tally);
    assert.ok(firstRequests && secondRequests, `two collections in the access log (GET /v2/ twice), found ${collectionsIn(requests()).length}`);

    const report = `first collection: ${firstMs} ms, requests ${JSON.stringify(firstRequests)}; second (from the end of the first): ${secondMs} ms, requests ${JSON.stringify(secondRequests)}; exporter RSS ${(memory.rss / 2 ** 20).toFixed(1)} MiB, peak ${(memory.peak / 2 ** 20).toFixed(1)} MiB; populate ${populateMs} ms`;
    process.stderr.write(`api-scale: ${report}\n`);
    assert.ok(firstRequests.manifestGets >= REPOSITORIES * TAGS, `the first collection read every manifest: ${report}`);
    // The synthetic probe (oci_registry_probe_*{step="manifest"}) GETs one manifest in every
    // collection, and says so in its User-Agent; the collection itself fetches none.
    assert.equal(secondRequests.manifestGets, 0, `manifest GETs in the second collection, the probe's aside: ${report}`);
    assert.equal(secondRequests.probeManifestGets, 1, `the probe's manifest GET in the second collection: ${report}`);
    assert.equal(secondRequests.manifestHeads, REPOSITORIES * TAGS, `every tag checked with one HEAD: ${report}`);
    assert.equal(secondRequests.tagLists, REPOSITORIES, `each tag list read once: ${report}`);
    assert.ok(memory.rss < MEMORY_LIMIT, `VmRSS: ${report}`);
    assert.ok(memory.peak < MEMORY_LIMIT, `VmHWM: ${report}`);
  });
});
