import { hostname } from 'node:os';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { PortholeConfigInput } from '../../src/config/schema.js';
import { buildInfo } from '../../src/observability/build-info.js';
import { ageStorage, deleteReference, gcConfigFile, HOUR_MS, runGc } from '../jobs/gc-fixture.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { runCli } from '../helpers/run-cli.js';
import { makeImage, OCI_MANIFEST, type Image } from '../helpers/registry-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { assertJobs, assertReplicas, assertRepositories, assertSummary } from './api-shapes.js';

/**
 * The management API (/api/v1) without auth, at the handler level: buildApp listening on an
 * ephemeral port (so that images are pushed as a client pushes them) and inject() for the API.
 * Every answer is checked against the committed types and against what the test pushed or ran.
 * The auth matrix: management-auth.test.ts; a real process: management-process.test.ts.
 */

interface Served {
  app: PortholeApp;
  url: string;
  root: string;
}

describe('management API', { timeout: 60_000 }, () => {
  let work = '';
  const served: Served[] = [];
  const logged = memoryLogger('warn');

  before(async () => {
    work = await tempDir('management');
  });

  after(async () => {
    await Promise.all(served.map(({ app }) => app.server.close()));
    await cleanup(work);
  });

  /** A porthole on its own root, scanning storage every 200 ms (so that the summary follows pushes quickly). */
  async function serve(name: string, extra: PortholeConfigInput = {}): Promise<Served> {
    const root = join(work, name);
    const config = validateConfig({ storage: { rootDirectory: root }, extensions: { metrics: { reportingInterval: '200ms' } }, ...extra });
    const app = await buildApp(config, { logger: logged.logger });
    const url = await app.server.listen({ host: '127.0.0.1', port: 0 });
    const entry = { app, url, root };
    served.push(entry);
    return entry;
  }

  const get = (app: PortholeApp, url: string, method = 'GET'): Promise<LightMyRequestResponse> => app.server.inject({ method: method as 'GET', url });
  const json = async (app: PortholeApp, url: string): Promise<unknown> => {
    const response = await get(app, url);
    assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    return response.json();
  };

  describe('what a porthole holds', () => {
    let server: Served;
    let images: Record<string, Image[]>;
    const pushedAt = new Map<string, [number, number]>();

    before(async () => {
      server = await serve('holds');
      images = { alpha: [], 'team/beta': [], zeta: [] };
      // alpha: two tags on two images; team/beta: one tag and an image by digest only; zeta: one tag.
      const push = async (repo: string, tag?: string): Promise<void> => {
        const started = Date.now();
        (images[repo] as Image[]).push(await makeImage(server.url, repo, tag === undefined ? {} : { tag }));
        pushedAt.set(repo, [pushedAt.get(repo)?.[0] ?? started, Date.now()]);
      };
      await push('alpha', 'v1');
      await push('alpha', 'v2');
      await push('team/beta', 'latest');
      await push('team/beta');
      await push('zeta', 'only');
    });

    const sizeOf = (repo: string): number => (images[repo] as Image[]).reduce((sum, image) => sum + image.config.length + image.layer.length + image.manifest.length, 0);

    test('summary: the counts of what was pushed, from the storage scan, with version, mode and replica id', async () => {
      let summary = assertSummary(await json(server.app, '/api/v1/summary'));
      // The scan of the pushes comes within a reporting interval or two.
      await waitFor('a storage scan that saw every push', async () => {
        summary = assertSummary(await json(server.app, '/api/v1/summary'));
        return summary.manifests === 5;
      }, 10_000);
      assert.equal(summary.repositories, 3);
      assert.equal(summary.tags, 4);
      assert.equal(summary.manifests, 5);
      assert.equal(summary.blobs, 10, 'a config and a layer per image');
      assert.equal(summary.bytesStored, sizeOf('alpha') + sizeOf('team/beta') + sizeOf('zeta'));
      assert.equal(summary.uploadsInProgress, 0);
      assert.equal(summary.version, buildInfo().version);
      assert.equal(summary.mode, 'hosted');
      assert.equal(summary.replicaId, `${hostname()}:5000`, 'the host and http.port (inject binds none)');
      assert.ok(summary.uptimeSeconds >= 0 && summary.uptimeSeconds < 60);
      assert.ok(Math.abs(Date.parse(summary.computedAt) - Date.now()) < 10_000, 'computed lately');
    });

    test('repositories: each with its tags, its size from the scan, its last push from the storage and its last pull from this process', async () => {
      const pulled = images.zeta?.[0] as Image;
      const pull = await raw(server.url, { path: `/v2/zeta/manifests/only`, headers: { accept: OCI_MANIFEST } });
      assert.equal(pull.status, 200);
      const pullDone = Date.now();
      // A HEAD and a 404 are no pulls.
      assert.equal((await raw(server.url, { method: 'HEAD', path: '/v2/alpha/manifests/v1', headers: { accept: OCI_MANIFEST } })).status, 200);
      assert.equal((await raw(server.url, { path: '/v2/alpha/manifests/nope', headers: { accept: OCI_MANIFEST } })).status, 404);

      const repositories = assertRepositories(await json(server.app, '/api/v1/repositories'));
      assert.deepEqual(repositories.map((repository) => repository.name), ['alpha', 'team/beta', 'zeta'], 'the catalog\'s order');
      assert.deepEqual(repositories.map((repository) => repository.tags), [2, 1, 1]);
      for (const repository of repositories) {
        assert.equal(repository.sizeBytes, sizeOf(repository.name), `${repository.name}: distinct blobs and manifests`);
        const [first, last] = pushedAt.get(repository.name) as [number, number];
        const lastPush = Date.parse(repository.lastPush ?? '');
        // File times may be coarser than the clock: a second of slack on the early side.
        assert.ok(lastPush >= first - 1000 && lastPush <= last + 1000, `${repository.name}: last push ${repository.lastPush} within its pushes`);
      }
      const zeta = repositories.find((repository) => repository.name === 'zeta');
      assert.ok(zeta?.lastPull !== null && Math.abs(Date.parse(zeta?.lastPull ?? '') - pullDone) < 5_000, `zeta pulled at ${zeta?.lastPull}`);
      assert.equal(repositories.find((repository) => repository.name === 'alpha')?.lastPull, null, 'a HEAD or a 404 is no pull');
      assert.equal(pulled.manifestDigest.startsWith('sha256:'), true);
    });

    test('repositories are paged as the catalog is: n, last and a Link header to the next page', async () => {
      const first = await get(server.app, '/api/v1/repositories?n=2');
      assert.equal(first.statusCode, 200);
      assert.deepEqual(assertRepositories(first.json()).map((repository) => repository.name), ['alpha', 'team/beta']);
      assert.equal(first.headers.link, '</api/v1/repositories?n=2&last=team%2Fbeta>; rel="next"');
      const next = await get(server.app, '/api/v1/repositories?n=2&last=team%2Fbeta');
      assert.deepEqual(assertRepositories(next.json()).map((repository) => repository.name), ['zeta']);
      assert.equal(next.headers.link, undefined, 'no Link on the last page');
      const empty = await get(server.app, '/api/v1/repositories?n=0');
      assert.deepEqual(empty.json(), { repositories: [] });
      assert.equal(empty.headers.link, undefined);
    });

    test('replicas: itself, healthy, with the address it listens on, its version and start', async () => {
      const summary = assertSummary(await json(server.app, '/api/v1/summary'));
      const replicas = assertReplicas(await json(server.app, '/api/v1/replicas'));
      assert.equal(replicas.length, 1);
      const [self] = replicas;
      assert.equal(self?.id, summary.replicaId);
      assert.equal(self?.address, new URL(server.url).host);
      assert.equal(self?.version, buildInfo().version);
      assert.equal(self?.healthy, true);
      assert.ok(Date.now() - Date.parse(self?.startedAt ?? '') < 60_000);
      const files = await readdir(join(server.root, 'replicas'));
      assert.deepEqual(files, [`${summary.replicaId}.json`], 'its heartbeat is in the storage');
    });

    test('bad n or limit: 400 PAGINATION_NUMBER_INVALID naming the parameter; unknown paths 404 and other methods 405, all in the OCI error format', async () => {
      const cases: Array<[string, string]> = [
        ['/api/v1/repositories?n=abc', 'n must be an integer from 0 to 1000, not "abc"'],
        ['/api/v1/repositories?n=-1', 'n must be an integer from 0 to 1000, not "-1"'],
        ['/api/v1/repositories?n=1001', 'n must be an integer from 0 to 1000, not "1001"'],
        ['/api/v1/jobs?limit=x', 'limit must be an integer from 0 to 1000, not "x"'],
        ['/api/v1/jobs?limit=5000', 'limit must be an integer from 0 to 1000, not "5000"'],
      ];
      for (const [url, message] of cases) {
        const refused = await get(server.app, url);
        assert.equal(refused.statusCode, 400, url);
        assert.deepEqual(refused.json(), { errors: [{ code: 'PAGINATION_NUMBER_INVALID', message, detail: { [url.includes('limit') ? 'limit' : 'n']: message.split('"')[1] } }] }, url);
      }
      for (const url of ['/api/v1/nothing', '/api/v1', '/api/v1/', '/api/v1/summary/extra']) {
        const missing = await get(server.app, url);
        assert.equal(missing.statusCode, 404, url);
        const body = missing.json() as { errors: Array<{ code: string; message: string }> };
        assert.equal(body.errors[0]?.code, 'UNSUPPORTED', url);
        assert.match(body.errors[0]?.message ?? '', /^no management API endpoint at \/api\/v1.*; there are \/api\/v1\/summary, \/api\/v1\/replicas, \/api\/v1\/jobs, \/api\/v1\/repositories(, \/api\/v1\/series)?$/);
      }
      const posted = await get(server.app, '/api/v1/summary', 'POST');
      assert.equal(posted.statusCode, 405);
      assert.equal(posted.headers.allow, 'GET, HEAD');
      assert.equal((posted.json() as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNSUPPORTED');
      const head = await get(server.app, '/api/v1/summary', 'HEAD');
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
      // /v2 keeps the spec's code for a bad n.
      const catalog = await get(server.app, '/v2/_catalog?n=abc');
      assert.equal((catalog.json() as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNSUPPORTED');
    });
  });

  describe('garbage, jobs run by the CLI, and other replicas', () => {
    let server: Served;
    let kept: Image;
    let dropped: Image;

    before(async () => {
      server = await serve('garbage');
      kept = await makeImage(server.url, 'app', { tag: 'kept' });
      dropped = await makeImage(server.url, 'app', { tag: 'dropped' });
      // Deleting the manifest by digest leaves its config and layer (and its bytes) to nobody.
      await deleteReference(server.url, 'app', dropped.manifestDigest);
      // Older than gc's grace (1h by default), as if pushed long ago.
      await ageStorage(server.root, 2 * HOUR_MS);
    });

    test('garbageBytes is what `porthole gc --dry-run` reports, computed in the background after a scan', async () => {
      const expected = dropped.config.length + dropped.layer.length + dropped.manifest.length;
      let summary = assertSummary(await json(server.app, '/api/v1/summary'));
      await waitFor(`garbageBytes ${expected}`, async () => {
        summary = assertSummary(await json(server.app, '/api/v1/summary'));
        return summary.garbageBytes === expected;
      }, 10_000);
      const dryRun = await runGc(await gcConfigFile(work, 'garbage', server.root), '--dry-run');
      assert.equal(dryRun.code, 0, dryRun.stderr);
      assert.equal(dryRun.line.bytes, expected, 'the CLI\'s dry run frees what the summary says');
      assert.equal(summary.garbageBytes, dryRun.line.bytes);
      assert.equal(kept.manifestDigest.startsWith('sha256:'), true);
    });

    test('a job run by the CLI in another process is listed by the server, newest first, with its figures', async () => {
      const before = assertJobs(await json(server.app, '/api/v1/jobs')).length;
      const config = await gcConfigFile(work, 'garbage-jobs', server.root);
      const dryRun = await runGc(config, '--dry-run');
      assert.equal(dryRun.code, 0, dryRun.stderr);
      const scrub = await runCli(['scrub', '--config', config, '--log-level', 'warn']);
      assert.equal(scrub.code, 0, scrub.stderr);
      const jobs = assertJobs(await json(server.app, '/api/v1/jobs'));
      assert.equal(jobs.length, before + 2);
      const [newest, previous] = jobs;
      assert.equal(newest?.action, 'scrub');
      assert.equal(newest?.trigger, 'cli');
      assert.equal(newest?.outcome, 'success');
      assert.equal(previous?.action, 'gc');
      assert.equal(previous?.outcome, 'success');
      assert.equal(previous?.summary.dryRun, true);
      assert.equal(previous?.summary.bytes, dryRun.line.bytes);
      assert.equal(previous?.seconds, dryRun.line.seconds);
      assert.ok(Date.parse(newest?.startedAt ?? '') >= Date.parse(previous?.endedAt ?? ''), 'newest first');
      assert.equal(Object.hasOwn(previous ?? {}, 'pushed'), false, 'only the contract\'s fields');
      const limited = assertJobs(await json(server.app, '/api/v1/jobs?limit=1'));
      assert.deepEqual(limited, [newest]);
      assert.deepEqual(assertJobs(await json(server.app, '/api/v1/jobs?limit=0')), []);
    });

    test('another replica\'s heartbeat: listed healthy while recent, unhealthy after three intervals, removed after an hour', async () => {
      const dir = join(server.root, 'replicas');
      await mkdir(dir, { recursive: true });
      const record = (id: string, silentMs: number) => ({
        id,
        address: 'other-host:5000',
        version: '0.0.1',
        startedAt: new Date(Date.now() - 3 * HOUR_MS).toISOString(),
        inFlight: 7,
        lastHeartbeat: new Date(Date.now() - silentMs).toISOString(),
        heartbeatSeconds: 10,
      });
      const fresh = record('aaaafresh000', 1_000);
      await writeFile(join(dir, 'aaaafresh000.json'), JSON.stringify(fresh));
      await writeFile(join(dir, 'bbbbsilent00.json'), JSON.stringify(record('bbbbsilent00', 45_000)));
      await writeFile(join(dir, 'ccccgone0000.json'), JSON.stringify(record('ccccgone0000', 2 * HOUR_MS)));
      await writeFile(join(dir, 'ddddbroken00.json'), '{"id": "half a rec');

      const replicas = assertReplicas(await json(server.app, '/api/v1/replicas'));
      const byId = new Map(replicas.map((replica) => [replica.id, replica]));
      const self = assertSummary(await json(server.app, '/api/v1/summary')).replicaId;
      assert.deepEqual([...byId.keys()].sort(), ['aaaafresh000', 'bbbbsilent00', self].sort());
      const { heartbeatSeconds: _interval, ...shown } = fresh;
      assert.deepEqual(byId.get('aaaafresh000'), { ...shown, healthy: true }, 'as it wrote it, without its interval, with healthy');
      assert.equal(byId.get('bbbbsilent00')?.healthy, false, 'silent for more than three of its 10 s intervals');
      assert.equal(byId.get(self)?.healthy, true);
      const files = await readdir(dir);
      assert.ok(!files.includes('ccccgone0000.json'), 'the record silent for two hours is removed by the lister');
      assert.ok(files.includes('ddddbroken00.json'), 'a file that is no record, but new, is left alone (it may be being replaced)');
    });
  });

  test('a pull-through cache is mode "cache"; the API is not the upstream\'s', async () => {
    const cache = await serve('cache', { proxy: { upstreams: [{ name: 'up.local', url: 'http://127.0.0.1:9' }] } });
    const summary = assertSummary(await json(cache.app, '/api/v1/summary'));
    assert.equal(summary.mode, 'cache');
    assert.deepEqual(assertRepositories(await json(cache.app, '/api/v1/repositories')), []);
  });
});
