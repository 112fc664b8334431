import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { digestOf, makeImage } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { blobDataFiles, snapshotTree } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { getManifest, portholeMetrics, pushImage, pushIndex, type UpstreamImage } from './proxy-fixture.js';

const DAY_MS = 86_400_000;

/** Sets a file's mtime `days` into the past, as if it had been written then. */
async function ageFile(path: string, days: number): Promise<void> {
  const then = new Date(Date.now() - days * DAY_MS);
  await utimes(path, then, then);
}

const revisionFile = (root: string, repo: string, digest: string) => join(root, 'repositories', repo, '_manifests', 'revisions', 'sha256', digest.slice(7));
const accessFile = (root: string, repo: string, digest: string) => join(root, 'repositories', repo, '_manifests', 'accessed', 'sha256', digest.slice(7));
const hasBlobData = async (root: string, digest: string) => (await blobDataFiles(root)).some((blob) => blob.hex === digest.slice(7));

/**
 * Pruning the pull-through cache, on demand (`porthole prune`) and on a schedule: what goes, what
 * must stay (young images, children of kept indexes, blobs shared with kept images, hosted
 * repositories), and that a dry run changes nothing.
 */
describe('pull-through cache: pruning', { skip: skipUnlessTools('docker-registry') }, () => {
  let upstream: DistributionProcess;
  let porthole: PortholeProcess;
  let work: string;
  let configFile: string;
  let stale: UpstreamImage;
  let fresh: UpstreamImage;
  let index: Awaited<ReturnType<typeof pushIndex>>;
  let hostedDigest: string;

  const config = (extra: string[] = []) =>
    ['extensions: { metrics: { enable: true } }', 'proxy:', '  upstreams:', `    - { name: up.local, url: "${upstream.url}" }`, ...extra].join('\n');

  /** Pulls an image whole (manifest, then every blob) through a porthole. */
  async function pull(url: string, image: UpstreamImage, reference = image.tag): Promise<void> {
    const manifest = await getManifest(url, `/v2/up.local/${image.repo}/manifests/${reference}`);
    assert.equal(manifest.status, 200, manifest.body.toString());
    for (const digest of image.blobs.keys()) assert.equal(digestOf((await raw(url, { path: `/v2/up.local/${image.repo}/blobs/${digest}` })).body), digest);
  }

  before(async () => {
    work = await tempDir('prune');
    upstream = await startDistribution();
    stale = await pushImage(upstream.url, 'library/stale', 'old', [5000, 7000]);
    fresh = await pushImage(upstream.url, 'library/fresh', 'new', [6000]);
    index = await pushIndex(upstream.url, 'library/multi', 'both');
    porthole = await startPorthole({ config: config() });
    await pull(porthole.url, stale);
    await pull(porthole.url, fresh);
    // The index and its amd64 image are pulled; its arm64 image is never asked for.
    assert.equal((await getManifest(porthole.url, '/v2/up.local/library/multi/manifests/both')).status, 200);
    await pull(porthole.url, index.amd64, index.amd64.manifestDigest);
    hostedDigest = (await makeImage(porthole.url, 'team/hosted', { tag: 'v1' })).manifestDigest;
    await porthole.stop();

    // Forty days since anyone pulled the stale image and the index's amd64 manifest; the fresh
    // image was cached long ago (by: created) but pulled today (by: accessed).
    for (const file of [revisionFile(porthole.root, 'up.local/library/stale', stale.manifestDigest), accessFile(porthole.root, 'up.local/library/stale', stale.manifestDigest)]) await ageFile(file, 40);
    for (const file of [revisionFile(porthole.root, 'up.local/library/multi', index.amd64.manifestDigest), accessFile(porthole.root, 'up.local/library/multi', index.amd64.manifestDigest)]) await ageFile(file, 40);
    await ageFile(revisionFile(porthole.root, 'up.local/library/fresh', fresh.manifestDigest), 40);
    await ageFile(revisionFile(porthole.root, 'team/hosted', hostedDigest), 400);
    configFile = join(work, 'porthole.yaml');
    await writeFile(configFile, `storage: { rootDirectory: "${porthole.root}" }\n${config()}\n`);
  });
  after(async () => {
    await upstream?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  it('a dry run reports what would go and changes nothing on disk', async () => {
    const before = await snapshotTree(porthole.root);
    const result = await runCli(['prune', '--config', configFile, '--older-than', '30d', '--by', 'accessed', '--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { dryRun: boolean; manifests: number; blobs: number; bytes: number };
    assert.equal(report.dryRun, true);
    assert.equal(report.manifests, 1, 'only the stale image: the index keeps its amd64 manifest');
    assert.equal(report.blobs, stale.blobs.size);
    const staleBytes = stale.manifest.length + [...stale.blobs.values()].reduce((sum, blob) => sum + blob.length, 0);
    assert.equal(report.bytes, staleBytes);
    assert.deepEqual(await snapshotTree(porthole.root), before);
  });

  it('removes the stale image and its data, and keeps young images, children of kept indexes, and hosted repositories', async () => {
    const result = await runCli(['prune', '--config', configFile, '--older-than', '30d']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { manifests: number }).manifests, 1);
    for (const digest of stale.blobs.keys()) assert.equal(await hasBlobData(porthole.root, digest), false, `${digest} freed`);
    assert.equal(await hasBlobData(porthole.root, stale.manifestDigest), false);
    const tree = await snapshotTree(porthole.root);
    assert.ok(![...tree.keys()].some((path) => path.startsWith('repositories/up.local/library/stale/_manifests/tags/old')), 'its tag went with it');
    for (const digest of [fresh.manifestDigest, ...fresh.blobs.keys(), index.indexDigest, index.amd64.manifestDigest, ...index.amd64.blobs.keys(), hostedDigest]) {
      assert.ok(await hasBlobData(porthole.root, digest), `${digest} kept`);
    }
  });

  it('by created, an image cached long ago goes even though it was pulled today', async () => {
    const result = await runCli(['prune', '--config', configFile, '--older-than', '30d', '--by', 'created']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await hasBlobData(porthole.root, fresh.manifestDigest), false);
    assert.ok(await hasBlobData(porthole.root, hostedDigest), 'hosted content is never pruned');
  });

  it('refuses bad flags and a config without a proxy section, exit 2', async () => {
    const badAge = await runCli(['prune', '--config', configFile, '--older-than', 'a month']);
    assert.equal(badAge.code, 2);
    assert.match(badAge.stderr, /--older-than/);
    const noProxy = join(work, 'hosted-only.yaml');
    await writeFile(noProxy, `storage: { rootDirectory: "${porthole.root}" }\n`);
    const refused = await runCli(['prune', '--config', noProxy]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /no proxy section/);
  });

  it('prunes on a schedule, logging and counting what it removed', async () => {
    const again = await pushImage(upstream.url, 'library/stale', 'old', [3000]);
    const scheduled = await startPorthole({ root: porthole.root, config: config() });
    try {
      await pull(scheduled.url, again);
    } finally {
      await scheduled.stop();
    }
    await ageFile(revisionFile(porthole.root, 'up.local/library/stale', again.manifestDigest), 40);
    await ageFile(accessFile(porthole.root, 'up.local/library/stale', again.manifestDigest), 40);
    const pruning = await startPorthole({ root: porthole.root, config: config(['  prune: { enabled: true, olderThan: 30d, every: 300ms }']) });
    try {
      await waitFor('a scheduled prune to log its run', () => pruning.output().includes('"msg":"prune finished"'), 10_000);
      const metrics = await portholeMetrics(pruning.url);
      assert.equal(metrics.value('porthole_job_items_total', { action: 'prune', kind: 'manifest', outcome: 'removed' }), 1);
      assert.equal(metrics.value('porthole_job_bytes_total', { action: 'prune', outcome: 'freed' }), again.manifest.length + [...again.blobs.values()].reduce((sum, blob) => sum + blob.length, 0));
      assert.equal(metrics.value('porthole_job_success', { action: 'prune' }), 1);
      assert.equal(metrics.value('porthole_job_fail', { action: 'prune' }), 0);
      assert.equal(await hasBlobData(porthole.root, again.manifestDigest), false);
    } finally {
      await pruning.stop();
    }
  });
});
