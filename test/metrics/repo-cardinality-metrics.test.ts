import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { runClients } from '../logging/load.js';
import { raw } from '../helpers/raw-http.js';
import { descriptor, expectStatus, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, pushManifest } from '../helpers/registry-client.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';
import { storageCensus } from '../helpers/storage-tree.js';
import { metricsScannedSince } from './metrics-assertions.js';
import type { Exposition } from '../helpers/prometheus-text.js';

/**
 * extensions.metrics.maxRepoLabels bounds the `repo` label: with 10 and 50 repositories, the
 * first 10 repositories porthole sees keep their names, the other 40 share repo="_other", and
 * nothing is lost: the per-repository series still add up to every push, pull and byte.
 */

const MAX_LABELS = 10;
const REPOSITORIES = Array.from({ length: 50 }, (_, i) => `fleet/repo-${String(i).padStart(2, '0')}`);
const OTHER = '_other';
const PER_REPO_METRICS = ['porthole_repo_uploads_total', 'porthole_repo_downloads_total', 'porthole_repo_storage_bytes'];

const porthole = sharedPorthole(`extensions:
  metrics:
    maxRepoLabels: ${MAX_LABELS}
    reportingInterval: 200ms
`);

/** One image, the same bytes in every repository: each repository links exactly `bytes`. */
function sharedImage(): { config: Buffer; layer: Buffer; manifest: Buffer; bytes: number } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const layer = randomBytes(2048);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, config), layers: [descriptor(OCI_LAYER, layer)] }));
  return { config, layer, manifest, bytes: config.length + layer.length + manifest.length };
}

function perRepo(exposition: Exposition, name: string): Record<string, number> {
  return exposition.byLabel(name, 'repo');
}

describe('repository label cardinality', { timeout: 60_000 }, () => {
  test('50 repositories give at most 11 repo values per metric, and _other holds exactly the rest', async () => {
    const { url, root } = porthole();
    const image = sharedImage();
    // Four clients at a time, as parallel pushers would: which 10 repositories are named then depends on timing, which is the point.
    await runClients(4, REPOSITORIES.length, async (index) => {
      const repo = REPOSITORIES[index] as string;
      await pushBlob(url, repo, image.config);
      await pushBlob(url, repo, image.layer);
      await pushManifest(url, repo, 'v1', image.manifest, OCI_MANIFEST);
      expectStatus(await raw(url, { path: `/v2/${repo}/manifests/v1`, headers: { accept: OCI_MANIFEST } }), 200, `GET ${repo} manifest`);
    });
    const metrics = await metricsScannedSince(url, Date.now());

    const named = new Set<string>();
    for (const name of PER_REPO_METRICS) {
      const values = Object.keys(perRepo(metrics, name));
      assert.ok(values.length <= MAX_LABELS + 1, `${name}: ${values.length} repo values`);
      // 50 repositories past a cap of 10: exactly 10 named series and the shared one.
      assert.equal(values.length, MAX_LABELS + 1, `${name}: ${values.join(', ')}`);
      assert.ok(values.includes(OTHER), `${name} has a repo="${OTHER}" series`);
      for (const repo of values) if (repo !== OTHER) named.add(repo);
    }
    assert.equal(named.size, MAX_LABELS, 'the three metrics name the same 10 repositories');
    for (const repo of named) assert.ok(REPOSITORIES.includes(repo), `${repo} is one of the pushed repositories`);

    const rest = REPOSITORIES.length - MAX_LABELS;
    const expected = (each: number): Record<string, number> => Object.fromEntries([...[...named].map((repo) => [repo, each]), [OTHER, rest * each]]);
    assert.deepEqual(perRepo(metrics, 'porthole_repo_uploads_total'), expected(1));
    assert.deepEqual(perRepo(metrics, 'porthole_repo_downloads_total'), expected(1));
    assert.deepEqual(perRepo(metrics, 'porthole_repo_storage_bytes'), expected(image.bytes));
    assert.equal(metrics.sum('porthole_repo_uploads_total'), REPOSITORIES.length, 'every push is counted once');

    // The storage gauges themselves are not capped, and agree with the disk.
    const census = await storageCensus(root);
    assert.equal(census.repository, REPOSITORIES.length);
    assert.equal(metrics.value('porthole_storage_objects', { kind: 'repository' }), REPOSITORIES.length);
    assert.equal(metrics.sum('porthole_repo_storage_bytes'), [...census.repositoryBytes.values()].reduce((sum, bytes) => sum + bytes, 0));
  });
});
