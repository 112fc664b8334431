import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { PortholeConfigInput } from '../../src/config/schema.js';
import type { SeriesResponse } from '../../src/management/api-types.js';
import { StorageGauges } from '../../src/observability/metrics/storage-gauges.js';
import { bucketQuantile, SeriesSampler } from '../../src/ui/series-sampler.js';
import { loadUiAssets } from '../../src/ui/ui-assets.js';
import { ConfigError } from '../../src/config/config-error.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

/**
 * The dashboard's server side at the handler level (buildApp + inject): its files with their
 * content types and caching, the off switch, GET /api/v1/series (shape, figures, bounds, minimal
 * mode) and its auth. The page itself in a browser: dashboard.test.ts.
 */

const SERIES_COLUMNS = [
  'time',
  'requestsPerSecond',
  'serverErrorsPerSecond',
  'latencyP50Seconds',
  'latencyP90Seconds',
  'latencyP99Seconds',
  'manifestPullsPerSecond',
  'blobPullsPerSecond',
  'pushesPerSecond',
  'cacheHitRatio',
  'bytesStored',
];

describe('web dashboard: server side', { timeout: 60_000 }, () => {
  let work = '';
  const apps: PortholeApp[] = [];
  const logged = memoryLogger('warn');

  before(async () => {
    work = await tempDir('ui-server');
  });
  after(async () => {
    await Promise.all(apps.map((app) => app.server.close()));
    await cleanup(work);
  });

  async function build(name: string, extra: PortholeConfigInput = {}): Promise<PortholeApp> {
    const config = validateConfig({ storage: { rootDirectory: join(work, name) }, ...extra });
    const app = await buildApp(config, { logger: logged.logger });
    apps.push(app);
    return app;
  }

  /** The asset paths index.html refers to (scripts, styles, icon). */
  function assetsOf(html: string): string[] {
    return [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((match) => `/ui/${match[1] as string}`);
  }

  describe('on by default', () => {
    let app: PortholeApp;
    before(async () => {
      app = await build('default');
    });

    test('/ui redirects to /ui/, which is the page with a strict content security policy', async () => {
      const redirect = await app.server.inject({ url: '/ui' });
      assert.equal(redirect.statusCode, 308);
      assert.equal(redirect.headers.location, '/ui/');
      const page = await app.server.inject({ url: '/ui/' });
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(page.headers['cache-control'], 'private, no-cache');
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      assert.match(page.body, /<main id="main"/);
      // Nothing from elsewhere: every script and style is porthole's own.
      assert.doesNotMatch(page.body, /(?:src|href)="(?:https?:)?\/\//);
    });

    test('every file the page names is served with its content type, immutable under a versioned path', async () => {
      const page = await app.server.inject({ url: '/ui/' });
      const assets = assetsOf(page.body);
      assert.ok(assets.some((path) => path.endsWith('/main.js')), `main.js among ${assets.join(', ')}`);
      assert.ok(assets.some((path) => path.endsWith('/vendor/uPlot.iife.min.js')));
      const expected: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
      for (const path of assets) {
        const response = await app.server.inject({ url: path });
        assert.equal(response.statusCode, 200, path);
        assert.equal(response.headers['content-type'], expected[path.slice(path.lastIndexOf('.'))], path);
        assert.equal(response.headers['cache-control'], 'private, max-age=31536000, immutable', path);
        assert.ok(Number(response.headers['content-length']) > 0, path);
      }
      // The modules main.js imports are there too (relative to it).
      const main = assets.find((path) => path.endsWith('/main.js')) as string;
      const mainText = (await app.server.inject({ url: main })).body;
      for (const match of mainText.matchAll(/from '\.\/([\w-]+\.js)'/g)) {
        const module = await app.server.inject({ url: main.replace('main.js', match[1] as string) });
        assert.equal(module.statusCode, 200, match[1]);
        assert.equal(module.headers['content-type'], 'text/javascript; charset=utf-8');
      }
    });

    test('gzip when accepted, 304 for a known ETag, 404 for an unknown file', async () => {
      const main = assetsOf((await app.server.inject({ url: '/ui/' })).body).find((path) => path.endsWith('/main.js')) as string;
      const plain = await app.server.inject({ url: main });
      const zipped = await app.server.inject({ url: main, headers: { 'accept-encoding': 'br, gzip;q=0.8' } });
      assert.equal(zipped.headers['content-encoding'], 'gzip');
      assert.equal(zipped.headers.vary, 'Accept-Encoding');
      assert.equal(gunzipSync(zipped.rawPayload).toString('utf8'), plain.body);
      const again = await app.server.inject({ url: main, headers: { 'if-none-match': String(plain.headers.etag) } });
      assert.equal(again.statusCode, 304);
      assert.equal(again.body, '');
      const missing = await app.server.inject({ url: main.replace('main.js', 'nothing.js') });
      assert.equal(missing.statusCode, 404);
      const traversal = await app.server.inject({ url: main.replace('main.js', '../../../package.json') });
      assert.equal(traversal.statusCode, 404);
    });

    test('GET /api/v1/series: every column, of one length, bounded, in the management API', async () => {
      const response = await app.server.inject({ url: '/api/v1/series' });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json() as SeriesResponse;
      assert.equal(body.intervalSeconds, 5);
      assert.equal(body.capacity, 360);
      assert.equal(body.mode, 'minimal');
      assert.equal(body.collecting, false);
      assert.deepEqual(Object.keys(body.series).sort(), [...SERIES_COLUMNS].sort());
      const lengths = new Set(Object.values(body.series).map((column) => column.length));
      assert.equal(lengths.size, 1);
      const post = await app.server.inject({ method: 'POST', url: '/api/v1/series' });
      assert.equal(post.statusCode, 405);
      const unknown = await app.server.inject({ url: '/api/v1/nothing' });
      assert.match(unknown.body, /\/api\/v1\/series/);
    });

    test('the repositories can be searched by part of their name (q), the next page keeping it', async () => {
      const pushed = ['team/app', 'team/web', 'tools/app-cli', 'other'];
      const url = await app.server.listen({ host: '127.0.0.1', port: 0 });
      const { makeImage } = await import('../helpers/registry-client.js');
      for (const repo of pushed) await makeImage(url, repo, { tag: 'v1' });
      const page = await app.server.inject({ url: '/api/v1/repositories?q=APP&n=1' });
      assert.equal(page.statusCode, 200, page.body);
      assert.deepEqual((page.json() as { repositories: Array<{ name: string }> }).repositories.map((repo) => repo.name), ['team/app']);
      assert.equal(page.headers.link, '</api/v1/repositories?n=1&last=team%2Fapp&q=app>; rel="next"');
      const next = await app.server.inject({ url: '/api/v1/repositories?n=1&last=team%2Fapp&q=app' });
      assert.deepEqual((next.json() as { repositories: Array<{ name: string }> }).repositories.map((repo) => repo.name), ['tools/app-cli']);
      assert.equal(next.headers.link, undefined);
    });
  });

  test('extensions.ui.enable: false: no /ui/ and no /api/v1/series', async () => {
    const app = await build('off', { extensions: { ui: { enable: false } } });
    for (const url of ['/ui/', '/ui', '/ui/assets/x/main.js']) assert.equal((await app.server.inject({ url })).statusCode, 404, url);
    const series = await app.server.inject({ url: '/api/v1/series' });
    assert.equal(series.statusCode, 404);
    assert.doesNotMatch(series.body, /\/api\/v1\/series,|\/api\/v1\/series$/);
    assert.equal((await app.server.inject({ url: '/api/v1/summary' })).statusCode, 200);
  });

  test('files not built: a configuration error naming extensions.ui.enable, not a broken page', async () => {
    await assert.rejects(loadUiAssets(join(work, 'no-such-build')), (err: unknown) => err instanceof ConfigError && /^extensions\.ui\.enable: .*npm run build/.test(err.problems[0] ?? ''));
    await assert.rejects(loadUiAssets(work), (err: unknown) => err instanceof ConfigError && /no index\.html or main\.js/.test(err.problems[0] ?? ''));
  });

  test('behind the management API auth: anonymous gets the Basic challenge, an admin gets the page', async () => {
    const htpasswd = join(work, 'htpasswd');
    await writeFile(htpasswd, `admin:${bcrypt.hashSync('s3cret', 4)}\nreader:${bcrypt.hashSync('other', 4)}\n`);
    const app = await build('auth', {
      auth: { htpasswd: { path: htpasswd }, realm: 'dashboard-test' },
      accessControl: { repositories: { '**': { defaultPolicy: ['pull'] } }, adminPolicy: { users: ['admin'], actions: ['pull', 'push', 'delete'] } },
    });
    const page = (await app.server.inject({ url: '/ui/' })).body;
    for (const url of ['/ui/', '/ui', '/api/v1/series', '/ui/assets/x/main.js']) {
      const anonymous = await app.server.inject({ url });
      assert.equal(anonymous.statusCode, 401, url);
      assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="dashboard-test", charset="UTF-8"', url);
    }
    assert.equal((await app.server.inject({ url: '/ui/', headers: basicHeaders('admin', 'wrong') })).statusCode, 401);
    assert.equal((await app.server.inject({ url: '/ui/', headers: basicHeaders('reader', 'other') })).statusCode, 403);
    const admitted = await app.server.inject({ url: '/ui/', headers: basicHeaders('admin', 's3cret') });
    assert.equal(admitted.statusCode, 200);
    assert.match(admitted.body, /<main id="main"/);
    assert.doesNotMatch(page, /<main/);
    const series = await app.server.inject({ url: '/api/v1/series', headers: basicHeaders('admin', 's3cret') });
    assert.equal(series.statusCode, 200);
  });

  describe('the sampler', () => {
    test('rates, percentiles and bytes stored from the metrics, at most capacity samples', async () => {
      const app = await build('sampler-full', { extensions: { metrics: { enable: true } } });
      const gauges = new StorageGauges(app.store, app.telemetry.metrics, app.telemetry.repoLabels);
      const sampler = new SeriesSampler({ metrics: app.telemetry.metrics, recorder: app.telemetry.recorder, gauges, mode: app.telemetry.mode }, { intervalMs: 1000, capacity: 3 });
      await sampler.sample();
      assert.equal(sampler.snapshot().series.time.length, 0, 'the first reading is only the baseline');
      for (let i = 0; i < 4; i += 1) assert.equal((await app.server.inject({ url: '/v2/' })).statusCode, 200);
      assert.equal((await app.server.inject({ url: '/v2/none/manifests/latest' })).statusCode, 404);
      // Not the registry's traffic: the dashboard's own requests.
      await app.server.inject({ url: '/api/v1/series' });
      await app.server.inject({ url: '/ui/' });
      await gauges.refresh();
      await sampler.sample();
      let { series, collecting, mode } = sampler.snapshot();
      assert.equal(mode, 'full');
      assert.equal(collecting, true);
      assert.deepEqual(series.requestsPerSecond, [5]);
      assert.deepEqual(series.serverErrorsPerSecond, [0]);
      assert.deepEqual(series.manifestPullsPerSecond, [0]);
      assert.deepEqual(series.cacheHitRatio, [null]);
      assert.deepEqual(series.bytesStored, [0]);
      const p50 = series.latencyP50Seconds[0];
      const p99 = series.latencyP99Seconds[0];
      assert.ok(typeof p50 === 'number' && p50 > 0 && typeof p99 === 'number' && p99 >= p50, `p50 ${p50}, p99 ${p99}`);
      for (let i = 0; i < 4; i += 1) await sampler.sample(Date.now() + (i + 1) * 1000);
      ({ series } = sampler.snapshot());
      for (const name of SERIES_COLUMNS) assert.equal((series as unknown as Record<string, unknown[]>)[name]?.length, 3, name);
      assert.deepEqual(series.requestsPerSecond, [0, 0, 0]);
      assert.deepEqual(series.latencyP50Seconds, [null, null, null], 'no request, no percentile');
    });

    test('minimal mode: request figures are null while nothing collects them, never zero', async () => {
      const app = await build('sampler-minimal');
      const gauges = new StorageGauges(app.store, app.telemetry.metrics, app.telemetry.repoLabels);
      const sampler = new SeriesSampler({ metrics: app.telemetry.metrics, recorder: app.telemetry.recorder, gauges, mode: app.telemetry.mode }, { intervalMs: 1000, capacity: 10 });
      await sampler.sample();
      await app.server.inject({ url: '/v2/' });
      await gauges.refresh();
      await sampler.sample();
      const { series, mode, collecting } = sampler.snapshot();
      assert.equal(mode, 'minimal');
      assert.equal(collecting, false);
      assert.deepEqual(series.requestsPerSecond, [null]);
      assert.deepEqual(series.latencyP99Seconds, [null]);
      assert.deepEqual(series.pushesPerSecond, [null]);
      assert.deepEqual(series.bytesStored, [0], 'storage figures are kept in minimal mode');
      // Switched on (as a scrape of the snapshot does): counted from the next full interval on.
      app.telemetry.recorder.setCollecting(true);
      await sampler.sample();
      await app.server.inject({ url: '/v2/' });
      await sampler.sample();
      assert.deepEqual(sampler.snapshot().series.requestsPerSecond, [null, null, 1]);
    });

    test('percentiles as histogram_quantile estimates them', () => {
      const bounds = [0.1, 0.2, 0.4];
      assert.equal(bucketQuantile(0.5, bounds, [0, 0, 0, 0]), undefined);
      assert.equal(bucketQuantile(0.5, bounds, [10, 0, 0, 0]), 0.05);
      assert.equal(bucketQuantile(0.5, bounds, [0, 4, 4, 0]), 0.2);
      assert.ok(Math.abs((bucketQuantile(0.75, bounds, [0, 4, 4, 0]) as number) - 0.3) < 1e-12);
      assert.equal(bucketQuantile(0.99, bounds, [1, 0, 0, 9]), 0.4, 'in +Inf: the highest finite bound');
    });
  });
});
