import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startExporter, type ExporterProcess } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';
import { raw } from '../helpers/raw-http.js';
import { expectStatus, makeImage, OCI_MANIFEST, type Image } from '../helpers/registry-client.js';
import { logLinesWith } from '../helpers/service-process.js';
import { storageCensus } from '../helpers/storage-tree.js';
import { requireTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { assertStorageGauges, scanStartedAt } from './metrics-assertions.js';

/**
 * Minimal mode (extensions.metrics.enable: false) through porthole-exporter, as an operator runs
 * it: collection off until the exporter's first scrape, on while it scrapes, off again after
 * idleTimeout without one. Short timeouts keep the whole lifecycle within a few seconds.
 */

const REPORTING_MS = 200;
const CONFIG = `extensions:
  metrics:
    enable: false
    reportingInterval: ${REPORTING_MS}ms
    minimal:
      checkInterval: 200ms
      idleTimeout: 1s
`;
const ENABLED = 'metrics collection enabled by a scrape';
const DISABLED = 'metrics collection disabled: no scrape within the idle timeout';
const MANIFESTS = '/v2/:name/manifests/:reference';
const BLOBS = '/v2/:name/blobs/:digest';
const UPLOADS = '/v2/:name/blobs/uploads/';

let root: string | undefined;
let port: number;
let porthole: PortholeProcess | undefined;
let exporter: ExporterProcess | undefined;

before(async () => {
  root = await tempDir('metrics-minimal');
  // A fixed port, so that the restarted porthole is where the exporter looks for it.
  port = await freePort();
  porthole = await startPorthole({ root, port, config: CONFIG });
  exporter = await startExporter({ config: { Server: { host: '127.0.0.1', port: String(port) } } });
});

after(async () => {
  await exporter?.dispose();
  await porthole?.stop();
  if (root) await cleanup(root);
});

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('porthole or the exporter did not start');
  return value;
}

async function scrape(): Promise<Exposition> {
  return new Exposition(await started(exporter).scrape());
}

/** porthole_http_requests_total as "METHOD route code" -> count. */
function requestCounts(exposition: Exposition): Record<string, number> {
  return Object.fromEntries(exposition.find('porthole_http_requests_total').map((s) => [`${s.labels.method} ${s.labels.route} ${s.labels.code}`, s.value]));
}

/** Log lines are written asynchronously: wait for them (bounded) rather than reading once. */
function countLogLines(message: string): number {
  return logLinesWith(started(porthole).output(), message).length;
}

function exporterLogLines(message: string): number {
  return logLinesWith(started(exporter).output(), message).length;
}

/** Pushes an image (two blob POSTs and a manifest PUT), then pulls its manifest `manifestGets` times and its config once. */
async function traffic(repo: string, manifestGets: number): Promise<Image> {
  const url = started(porthole).url;
  const image = await makeImage(url, repo, { tag: 'v1' });
  for (let i = 0; i < manifestGets; i++) {
    expectStatus(await raw(url, { path: `/v2/${repo}/manifests/v1`, headers: { accept: OCI_MANIFEST } }), 200, 'GET manifest');
  }
  expectStatus(await raw(url, { path: `/v2/${repo}/blobs/${image.configDigest}` }), 200, 'GET config blob');
  return image;
}

/** Long enough for a few storage scans (every reportingInterval) to have run. */
const scansHappen = (): Promise<void> => sleep(3 * REPORTING_MS + 100);

test('minimal mode: collection follows the exporter, storage gauges do not', { timeout: 60_000 }, async (t) => {
  // Every image pushed, for the storage numbers known up front.
  const pushed: Image[] = [];

  await t.test('requests before the first scrape are not counted; the storage gauges are kept', async () => {
    pushed.push(await traffic('minimal/before', 1));
    const pushedAt = Date.now();
    await scansHappen();
    // Never on, so never switched off: a porthole that started collecting would have been switched off by now.
    assert.equal(countLogLines(DISABLED), 0, 'collection was off from the start');
    const first = await scrape();
    assert.equal(first.value('porthole_up'), 1);
    assert.equal(first.value('porthole_info', { mode: 'minimal' }), 1);
    assert.deepEqual(requestCounts(first), {}, 'nothing counted: not even this scrape, which is answered before it is counted');
    assert.deepEqual(first.find('porthole_pulls_total'), []);
    assert.deepEqual(first.find('porthole_repo_uploads_total'), []);
    assert.deepEqual(first.find('porthole_repo_downloads_total'), []);
    assert.equal(first.sum('porthole_http_requests_in_flight'), 0, 'the enabling scrape arrived while collection was off');
    assert.ok(scanStartedAt(first) >= pushedAt, 'a storage scan ran after the push, with collection off');
    assertStorageGauges(first, await storageCensus(started(porthole).root));
    await waitFor('porthole to log that the scrape enabled collection', () => countLogLines(ENABLED) === 1, 5_000);
  });

  let counted: Record<string, number> = {};
  await t.test('requests while the exporter scrapes are counted exactly', async () => {
    const image = await traffic('minimal/during', 2);
    pushed.push(image);
    const { url } = started(porthole);
    expectStatus(await raw(url, { method: 'HEAD', path: `/v2/minimal/during/manifests/v1`, headers: { accept: OCI_MANIFEST } }), 200, 'HEAD manifest');
    const second = await scrape();
    // Had the idle check switched collection off mid-step (a machine stalled for over a second), the counts below would be wrong for that reason.
    assert.equal(countLogLines(DISABLED), 0, 'collection stayed on during the step');
    counted = requestCounts(second);
    assert.deepEqual(counted, {
      [`POST ${UPLOADS} 201`]: 2,
      [`PUT ${MANIFESTS} 201`]: 1,
      [`GET ${MANIFESTS} 200`]: 2,
      [`HEAD ${MANIFESTS} 200`]: 1,
      [`GET ${BLOBS} 200`]: 1,
      'GET /metrics 200': 1,
    });
    assert.deepEqual(second.byLabel('porthole_repo_uploads_total', 'repo'), { 'minimal/during': 1 });
    assert.deepEqual(second.byLabel('porthole_repo_downloads_total', 'repo'), { 'minimal/during': 2 });
    assert.deepEqual(second.byLabel('porthole_pulls_total', 'type'), { manifest: 2, blob: 1 }, 'HEAD is not a pull');
    assert.deepEqual(second.byLabel('porthole_pull_bytes_total', 'type'), { manifest: 2 * image.manifest.length, blob: image.config.length });
    assert.equal(second.value('porthole_http_request_duration_seconds_count', { method: 'GET', route: MANIFESTS }), 2);

    // Histograms come back from the snapshot as histograms, buckets and all, and lint clean.
    assert.equal(second.types.get('porthole_http_request_duration_seconds'), 'histogram');
    assert.match(second.text, /^# TYPE porthole_http_request_duration_seconds histogram$/m);
    assert.equal(second.value('porthole_http_request_duration_seconds_bucket', { method: 'GET', route: MANIFESTS, le: '+Inf' }), 2);
    assert.equal(second.types.get('porthole_storage_operation_duration_seconds'), 'histogram');
    if (requireTools(t, 'promtool')) assert.deepEqual(await promtoolCheckMetrics(second.text), { code: 0, stdout: '', stderr: '' });
  });

  await t.test('collection stops after idleTimeout; requests then are not counted, storage gauges still follow', async () => {
    // Bounded: idleTimeout (1 s) plus a checkInterval (200 ms), with room for a slow machine.
    await waitFor('porthole to switch collection off', () => countLogLines(DISABLED) === 1, 5_000);
    pushed.push(await traffic('minimal/idle', 1));
    const pushedAt = Date.now();
    await scansHappen();
    const third = await scrape();
    // porthole_metrics_collection_enabled cannot show the 0: fetching the snapshot switches
    // collection on before answering. The counts show it instead: the second scrape (finished
    // while on) is the only request added since the last snapshot.
    assert.deepEqual(requestCounts(third), { ...counted, 'GET /metrics 200': 2 });
    assert.deepEqual(third.byLabel('porthole_repo_uploads_total', 'repo'), { 'minimal/during': 1 });
    assert.deepEqual(third.byLabel('porthole_repo_downloads_total', 'repo'), { 'minimal/during': 2 });
    assert.deepEqual(third.byLabel('porthole_pulls_total', 'type'), { manifest: 2, blob: 1 });
    await waitFor('porthole to log that the third scrape enabled collection again', () => countLogLines(ENABLED) === 2, 5_000);

    assert.ok(scanStartedAt(third) >= pushedAt, 'a storage scan ran after the push, with collection off');
    const census = await storageCensus(started(porthole).root);
    assertStorageGauges(third, census);
    // Up front: three images of a config, a layer and a tagged manifest each, nothing shared.
    assert.deepEqual(
      { repository: census.repository, tag: census.tag, manifest: census.manifest, blob: census.blob },
      {
        repository: 3,
        tag: 3,
        manifest: { count: 3, bytes: pushed.reduce((sum, image) => sum + image.manifest.length, 0) },
        blob: { count: 6, bytes: pushed.reduce((sum, image) => sum + image.config.length + image.layer.length, 0) },
      },
    );
  });

  await t.test('porthole_up goes to 0 while porthole is down and back to 1 when it restarts on the same port', async () => {
    await started(porthole).stop();
    const down = await scrape();
    assert.equal(down.value('porthole_up'), 0);
    assert.equal(down.value('porthole_exporter_scrape_errors_total', { reason: 'unreachable' }), 1);
    assert.deepEqual(down.find('porthole_info'), [], "nothing of porthole's is replayed");
    await waitFor('the exporter to log that porthole cannot be read', () => exporterLogLines('porthole cannot be read; answering porthole_up 0') === 1, 5_000);
    if (requireTools(t, 'promtool')) assert.deepEqual(await promtoolCheckMetrics(down.text), { code: 0, stdout: '', stderr: '' });

    porthole = await startPorthole({ root: started(root), port, config: CONFIG });
    const up = await scrape();
    assert.equal(up.value('porthole_up'), 1);
    assert.equal(up.value('porthole_info', { mode: 'minimal' }), 1);
    assert.equal(up.value('porthole_exporter_scrape_errors_total', { reason: 'unreachable' }), 1, 'the error counter keeps its count');
    assert.deepEqual(up.find('porthole_repo_uploads_total'), [], 'a new process: counting starts at its first scrape');
    // Once when porthole was first read, once now: not on every scrape.
    await waitFor('the exporter to log that porthole is readable again', () => exporterLogLines('porthole is readable') === 2, 5_000);
  });
});
