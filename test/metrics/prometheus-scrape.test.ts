import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { accessLogUntil, type AccessLine } from '../e2e/access-log.js';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { startPrometheus, type PrometheusProcess, type QuerySample } from '../helpers/prometheus-process.js';
import { raw } from '../helpers/raw-http.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';
import { hasTool, requireTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { assertGaugesMatchDisk, fetchExposition } from './metrics-assertions.js';

/**
 * Porthole in full mode (`--metrics`), scraped every second by a real Prometheus, driven by
 * skopeo: what the dashboards will show is asserted through Prometheus' own query API.
 */

const JOB = 'porthole';
const ALPHA = 'scrape/alpha';
const BETA = 'scrape/beta';
const PULLS = 3;
const MANIFEST_ROUTE = '/v2/:name/manifests/:reference';
const BLOB_ROUTE = '/v2/:name/blobs/:digest';
const P90_QUERY = 'histogram_quantile(0.9, sum by (le) (rate(porthole_http_request_duration_seconds_bucket[1m])))';

let work: string | undefined;
let sandbox: ContainersSandbox | undefined;
let porthole: PortholeProcess | undefined;
let prometheus: PrometheusProcess | undefined;
let alpha: LayoutDescription;
let beta: LayoutDescription;

before(async () => {
  work = await tempDir('metrics-prometheus');
  const dir = work;
  [alpha, beta, sandbox] = await Promise.all([
    buildOciLayout({ dir: join(dir, 'alpha'), tag: 'v1', seed: 'metrics-alpha', layers: 2, fileBytes: 16 * 1024 }),
    buildOciLayout({ dir: join(dir, 'beta'), tag: 'v1', seed: 'metrics-beta', layers: 1, fileBytes: 16 * 1024 }),
    ContainersSandbox.create(),
  ]);
  // A short reporting interval, so that the storage gauges follow the pushes within a test.
  porthole = await startPorthole({ args: ['--metrics'], config: 'extensions:\n  metrics:\n    reportingInterval: 200ms\n' });
  // Started now, not in the test: its first scrape comes about 5 s after it starts.
  if (hasTool('prometheus')) prometheus = await startPrometheus({ targets: [{ job: JOB, target: porthole.host }] });
});

after(async () => {
  await prometheus?.dispose();
  await porthole?.stop();
  await sandbox?.dispose();
  await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
});

function running<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} did not start`);
  return value;
}

/** Both images pushed once, whichever test asks first. */
let pushes: Promise<void> | undefined;
function pushBoth(): Promise<void> {
  const p = running(porthole, 'porthole');
  const box = running(sandbox, 'the containers sandbox');
  pushes ??= (async () => {
    for (const [fixture, repo] of [
      [alpha, ALPHA],
      [beta, BETA],
    ] as const) {
      await box.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${fixture.dir}:${fixture.tag}`, `docker://${p.host}/${repo}:${fixture.tag}`]);
    }
  })();
  return pushes;
}

/**
 * Every request porthole has finished, in order. A last request of the test's own (404 on a
 * repository nobody uses) marks the end: porthole logs and counts each request in the same
 * synchronous step, in order, so once that line is out every earlier request is counted.
 */
async function requestsSoFar(p: PortholeProcess, marker: string): Promise<AccessLine[]> {
  await raw(p.url, { path: `/v2/scrape/${marker}/tags/list` });
  return accessLogUntil(p.output, (line) => line.path === `/v2/scrape/${marker}/tags/list`);
}

function countBy(lines: AccessLine[], key: (line: AccessLine) => string | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const value = key(line);
    if (value !== undefined) counts[value] = (counts[value] ?? 0) + 1;
  }
  return counts;
}

/** A query answer as label value -> sample value. */
function byLabel(samples: QuerySample[], label: string): Record<string, number> {
  return Object.fromEntries(samples.map((sample) => [sample.labels[label], sample.value]));
}

describe('porthole scraped by Prometheus', { timeout: 120_000 }, () => {
  test('uploads, downloads and pulls of skopeo pushes and pulls reach Prometheus exactly', async (t) => {
    if (!requireTools(t, 'prometheus', 'skopeo')) return;
    const p = running(porthole, 'porthole');
    const prom = running(prometheus, 'prometheus');
    const box = running(sandbox, 'the containers sandbox');
    const dir = running(work, 'the work directory');
    // A first scrape before any traffic, so that the traffic's requests fall inside rate()'s window.
    await prom.scrapedSince(JOB, 0);
    await pushBoth();
    for (let pull = 1; pull <= PULLS; pull++) {
      await box.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${p.host}/${ALPHA}:${alpha.tag}`, `oci:${join(dir, `pull-${pull}`)}:${alpha.tag}`]);
    }
    const requests = await requestsSoFar(p, 'end-of-pulls');
    const trafficDone = Date.now();

    // What the clients actually asked for, from porthole's access log.
    const pulled = requests.filter((l) => l.method === 'GET' && (l.status === 200 || l.status === 206));
    const logged = {
      uploads: countBy(requests, (l) => (l.method === 'PUT' && l.status === 201 && l.route === MANIFEST_ROUTE ? l.repo : undefined)),
      downloads: countBy(pulled, (l) => (l.route === MANIFEST_ROUTE ? l.repo : undefined)),
      pulls: countBy(pulled, (l) => (l.route === MANIFEST_ROUTE ? 'manifest' : l.route === BLOB_ROUTE ? 'blob' : undefined)),
    };
    // Cross-check with what is known up front. Each push PUTs one manifest (by tag). skopeo 1.9.3
    // pulling a single-arch image GETs its manifest once, by tag (it does not GET it again by
    // digest, and sends no HEAD), then GETs each blob once: the config and the two layers.
    const alphaImage = alpha.images[0];
    assert.ok(alphaImage);
    const blobsPerPull = 1 + alphaImage.layers.length;
    assert.deepEqual(logged.uploads, { [ALPHA]: 1, [BETA]: 1 }, 'one manifest PUT per push');
    assert.deepEqual(logged.downloads, { [ALPHA]: PULLS }, 'one manifest GET per skopeo pull');
    assert.deepEqual(logged.pulls, { manifest: PULLS, blob: PULLS * blobsPerPull }, 'one GET per blob per skopeo pull');

    // Bounded wait for a scrape that started after the last request; then every value is final.
    await prom.scrapedSince(JOB, trafficDone);
    assert.deepEqual(byLabel(await prom.query('porthole_repo_uploads_total'), 'repo'), logged.uploads);
    assert.deepEqual(byLabel(await prom.query('porthole_repo_downloads_total'), 'repo'), logged.downloads);
    assert.deepEqual(byLabel(await prom.query('porthole_pulls_total'), 'type'), logged.pulls);
    const blobBytes = alphaImage.config.size + alphaImage.layers.reduce((sum, layer) => sum + layer.size, 0);
    assert.deepEqual(byLabel(await prom.query('porthole_pull_bytes_total'), 'type'), { manifest: PULLS * alpha.root.size, blob: PULLS * blobBytes });

    // rate() needs two scrapes with requests between them: poll (bounded) until there is an answer.
    let p90: QuerySample[] = [];
    await waitFor('an answer to the p90 query', async () => {
      p90 = await prom.query(P90_QUERY);
      return p90.length > 0 && !Number.isNaN(p90[0]?.value);
    }, 30_000);
    assert.equal(p90.length, 1);
    const seconds = p90[0]?.value ?? NaN;
    assert.ok(seconds > 0 && seconds < 1, `the p90 request duration is sub-second (and in seconds, not ms): got ${seconds}`);
    t.diagnostic(`pulls ${JSON.stringify(logged.pulls)}, downloads ${JSON.stringify(logged.downloads)}, uploads ${JSON.stringify(logged.uploads)}, p90 ${seconds} s`);
  });

  test('storage gauges match the storage on disk after the pushes', async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const p = running(porthole, 'porthole');
    await pushBoth();
    const pushed = Date.now();
    const census = await assertGaugesMatchDisk(p.url, p.root, pushed);
    // And the census is what was pushed: two images, no blob shared between them.
    const images = [alpha, beta].flatMap((fixture) => fixture.images);
    assert.deepEqual(census.blob, {
      count: images.reduce((sum, image) => sum + 1 + image.layers.length, 0),
      bytes: images.reduce((sum, image) => sum + image.config.size + image.layers.reduce((total, layer) => total + layer.size, 0), 0),
    });
    assert.deepEqual(census.manifest, { count: 2, bytes: alpha.root.size + beta.root.size });
    assert.equal(census.repository, 2);
    assert.equal(census.tag, 2);
  });

  test('promtool check metrics finds nothing to report in the full-mode output', async (t) => {
    if (!requireTools(t, 'promtool', 'skopeo')) return;
    const p = running(porthole, 'porthole');
    await pushBoth();
    const exposition = await fetchExposition(`${p.url}/metrics`);
    // After traffic, so that the histograms have buckets to check.
    assert.ok(exposition.sum('porthole_http_request_duration_seconds_count') > 0);
    assert.deepEqual(await promtoolCheckMetrics(exposition.text), { code: 0, stdout: '', stderr: '' });
  });
});
