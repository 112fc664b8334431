import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { PortholeConfigInput } from '../../src/config/schema.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { makeImage, snapshotTree, type Image } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

/**
 * Access control, decided for every caller and action before a handler runs (docs/auth.md). The
 * users' passwords are hashed by Apache's own `htpasswd -B`. porthole is built in this process
 * and listens on a loopback port; the requests are plain HTTP, as a client sends them.
 */

const run = promisify(execFile);

type Caller = 'anonymous' | 'alice' | 'ci' | 'bob' | 'admin';
type Action = 'pull' | 'push' | 'delete';
const PASSWORDS: Record<Exclude<Caller, 'anonymous'>, string> = { alice: 'alice-pw', ci: 'ci-pw', bob: 'bob-pw', admin: 'admin-pw' };
const REPOSITORIES = ['team/app', 'public/base', 'private/x', 'other/y'] as const;
type Repository = (typeof REPOSITORIES)[number];

const ACCESS_CONTROL: PortholeConfigInput['accessControl'] = {
  groups: { dev: ['alice'] },
  repositories: {
    'team/**': { policies: [{ users: ['ci'], actions: ['pull', 'push'] }, { groups: ['dev'], actions: ['pull', 'push', 'delete'] }], defaultPolicy: ['pull'] },
    'public/**': { anonymousPolicy: ['pull'] },
    'private/*': { policies: [{ users: ['alice'], actions: ['pull'] }] },
  },
  adminPolicy: { users: ['admin'], actions: ['pull', 'push', 'delete'] },
};

/** What the configuration above means, written out by hand: the test's own statement of the policy. */
const GRANTED: Record<Caller, Record<Repository, Action[]>> = {
  anonymous: { 'team/app': [], 'public/base': ['pull'], 'private/x': [], 'other/y': [] },
  alice: { 'team/app': ['pull', 'push', 'delete'], 'public/base': ['pull'], 'private/x': ['pull'], 'other/y': [] },
  ci: { 'team/app': ['pull', 'push'], 'public/base': ['pull'], 'private/x': [], 'other/y': [] },
  bob: { 'team/app': ['pull'], 'public/base': ['pull'], 'private/x': [], 'other/y': [] },
  admin: { 'team/app': ['pull', 'push', 'delete'], 'public/base': ['pull', 'push', 'delete'], 'private/x': ['pull', 'push', 'delete'], 'other/y': ['pull', 'push', 'delete'] },
};

const ABSENT_DIGEST = `sha256:${'0'.repeat(64)}`;

let work = '';
let root = '';
let app: PortholeApp | undefined;
let base = '';
const images = new Map<Repository, Image>();

function credentials(caller: Caller, password?: string): Record<string, string> {
  if (caller === 'anonymous') return {};
  return basicHeaders(caller, password ?? PASSWORDS[caller]);
}

async function listen(config: PortholeConfigInput): Promise<{ app: PortholeApp; url: string }> {
  const built = await buildApp(validateConfig(config), { logger: memoryLogger('warn').logger });
  await built.server.listen({ host: '127.0.0.1', port: 0 });
  const address = built.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { app: built, url: `http://127.0.0.1:${address.port}` };
}

interface Probe {
  action: Action;
  what: string;
  request(repository: Repository): { method: string; path: string; body?: Buffer; headers?: Record<string, string> };
  /** The status when allowed. */
  allowed: number;
}

/** Every API action, each against content that exists (reads) or that does not (deletions, so that nothing is lost while the matrix runs). */
const PROBES: Probe[] = [
  { action: 'pull', what: 'pull manifest', allowed: 200, request: (repository) => ({ method: 'GET', path: `/v2/${repository}/manifests/1`, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }) },
  { action: 'pull', what: 'pull blob', allowed: 200, request: (repository) => ({ method: 'GET', path: `/v2/${repository}/blobs/${images.get(repository)?.layerDigest}` }) },
  { action: 'pull', what: 'tags list', allowed: 200, request: (repository) => ({ method: 'GET', path: `/v2/${repository}/tags/list` }) },
  { action: 'pull', what: 'referrers', allowed: 200, request: (repository) => ({ method: 'GET', path: `/v2/${repository}/referrers/${images.get(repository)?.manifestDigest}` }) },
  { action: 'push', what: 'start an upload', allowed: 202, request: (repository) => ({ method: 'POST', path: `/v2/${repository}/blobs/uploads/` }) },
  { action: 'push', what: 'push a manifest', allowed: 201, request: (repository) => ({ method: 'PUT', path: `/v2/${repository}/manifests/2`, body: images.get(repository)?.manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } }) },
  { action: 'delete', what: 'delete a tag', allowed: 404, request: (repository) => ({ method: 'DELETE', path: `/v2/${repository}/manifests/no-such-tag` }) },
  { action: 'delete', what: 'delete a manifest', allowed: 404, request: (repository) => ({ method: 'DELETE', path: `/v2/${repository}/manifests/${ABSENT_DIGEST}` }) },
  { action: 'delete', what: 'delete a blob', allowed: 404, request: (repository) => ({ method: 'DELETE', path: `/v2/${repository}/blobs/${ABSENT_DIGEST}` }) },
];

async function send(caller: Caller, request: { method: string; path: string; body?: Buffer; headers?: Record<string, string> }, password?: string): Promise<Response> {
  const response = await fetch(`${base}${request.path}`, {
    method: request.method,
    headers: { ...request.headers, ...credentials(caller, password) },
    ...(request.body ? { body: new Uint8Array(request.body) } : {}),
  });
  return response;
}

async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json().catch(() => undefined)) as { errors?: Array<{ code: string }> } | undefined;
  return body?.errors?.[0]?.code;
}

describe('access control: who may do what, on which repository', { skip: skipUnlessTools('htpasswd'), timeout: 120_000 }, () => {
  before(async () => {
    work = await tempDir('access-matrix');
    root = join(work, 'root');
    const htpasswd = join(work, 'htpasswd');
    await addHtpasswdUsers(htpasswd, PASSWORDS, { create: true });
    // The content, pushed by a porthole without auth on the same storage, then stopped.
    const open = await listen({ storage: { filesystem: { rootDirectory: root } } });
    for (const repository of REPOSITORIES) images.set(repository, await makeImage(open.url, repository, { tag: '1' }));
    await open.app.server.close();
    const guarded = await listen({ storage: { filesystem: { rootDirectory: root } }, auth: { htpasswd: { path: htpasswd } }, accessControl: ACCESS_CONTROL });
    app = guarded.app;
    base = guarded.url;
  });

  after(async () => {
    await app?.server.close();
    await cleanup(work);
  });

  for (const caller of ['anonymous', 'alice', 'ci', 'bob', 'admin'] as const) {
    test(`${caller}: every action on every repository answers as the policy says, and a refused write changes nothing`, async () => {
      for (const repository of REPOSITORIES) {
        for (const probe of PROBES) {
          const allowed = GRANTED[caller][repository].includes(probe.action);
          const before = allowed ? undefined : await snapshotTree(root);
          const response = await send(caller, probe.request(repository));
          const where = `${caller} ${probe.what} in ${repository}`;
          if (allowed) {
            if (response.status !== probe.allowed) assert.fail(`${where}: ${response.status} ${await response.text()}`);
            await response.body?.cancel();
            continue;
          }
          const expected = caller === 'anonymous' ? 401 : 403;
          assert.equal(response.status, expected, where);
          assert.equal(await errorCode(response), caller === 'anonymous' ? 'UNAUTHORIZED' : 'DENIED', where);
          if (caller === 'anonymous') assert.match(response.headers.get('www-authenticate') ?? '', /^Basic realm="porthole"/, where);
          assert.deepEqual(await snapshotTree(root), before, `${where}: storage unchanged`);
        }
      }
    });
  }

  test('a mount needs pull on its source: without it the client gets an upload session, not the blob', async () => {
    const layer = images.get('team/app')?.layerDigest as string;
    // ci may push to team/app... and pull it: the mount into team/app2 (team/**) is done.
    const mounted = await send('ci', { method: 'POST', path: `/v2/team/app2/blobs/uploads/?mount=${layer}&from=team/app` });
    assert.equal(mounted.status, 201);
    // admin may push to other/y, and may pull private/x: mounted. alice may push to team/** but not pull other/y: a session.
    const otherLayer = images.get('other/y')?.layerDigest as string;
    const refused = await send('alice', { method: 'POST', path: `/v2/team/app3/blobs/uploads/?mount=${otherLayer}&from=other/y` });
    assert.equal(refused.status, 202, 'an upload session instead of the mount');
    assert.match(refused.headers.get('location') ?? '', /\/v2\/team\/app3\/blobs\/uploads\//);
    const head = await send('alice', { method: 'HEAD', path: `/v2/team/app3/blobs/${otherLayer}` });
    assert.equal(head.status, 404, 'the blob of other/y did not become reachable in team/app3');
  });

  test('the catalog lists only what the caller may pull', async () => {
    const expected: Record<Caller, string[]> = {
      anonymous: ['public/base'],
      alice: ['private/x', 'public/base', 'team/app', 'team/app2', 'team/app3'],
      ci: ['public/base', 'team/app', 'team/app2', 'team/app3'],
      bob: ['public/base', 'team/app', 'team/app2', 'team/app3'],
      admin: ['other/y', 'private/x', 'public/base', 'team/app', 'team/app2', 'team/app3'],
    };
    for (const caller of ['anonymous', 'alice', 'ci', 'bob', 'admin'] as const) {
      const response = await send(caller, { method: 'GET', path: '/v2/_catalog' });
      assert.equal(response.status, 200, caller);
      const listed = ((await response.json()) as { repositories: string[] }).repositories;
      // The repositories of the mount test hold a blob link or only an upload session: whether the
      // catalog lists them is the catalog's business, not access control's.
      const settled = (names: string[]) => names.filter((name) => name !== 'team/app2' && name !== 'team/app3');
      assert.deepEqual(settled(listed), settled(expected[caller]), caller);
      assert.ok(listed.every((name) => expected[caller].includes(name)), `${caller} sees only what it may pull: ${listed.join(', ')}`);
    }
  });

  test('a wrong password is refused with 401 whoever the user is, in the same words for an unknown user', async () => {
    const wrong = await send('alice', { method: 'GET', path: '/v2/' }, 'not-her-password');
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic realm="porthole"/);
    const wrongBody = await wrong.json();
    const unknown = await fetch(`${base}/v2/`, { headers: basicHeaders('mallory', 'whatever') });
    assert.equal(unknown.status, 401);
    assert.deepEqual(await unknown.json(), wrongBody);
    const right = await send('alice', { method: 'GET', path: '/v2/' });
    assert.equal(right.status, 200);
    const anonymous = await send('anonymous', { method: 'GET', path: '/v2/' });
    assert.equal(anonymous.status, 401, 'the version check challenges anonymous clients, even with public repositories: that is where clients learn to log in');
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm="porthole"/);
    // What skopeo sends, once challenged, when it has no credentials: anonymous, and may pull public/**.
    const empty = { authorization: `Basic ${Buffer.from(':').toString('base64')}` };
    assert.equal((await fetch(`${base}/v2/public/base/manifests/1`, { headers: { ...empty, accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
    assert.equal((await fetch(`${base}/v2/team/app/manifests/1`, { headers: empty })).status, 401);
  });

  test('a caller who may not pull a repository cannot tell whether it exists', async () => {
    const there = await send('bob', { method: 'GET', path: '/v2/private/x/manifests/1' });
    const absent = await send('bob', { method: 'GET', path: '/v2/private/nothing/manifests/1' });
    assert.equal(there.status, 403);
    assert.equal(absent.status, 403);
    assert.deepEqual(await absent.json(), JSON.parse(JSON.stringify(await there.json()).replaceAll('private/x', 'private/nothing')));
  });
});

describe('the pull-through cache obeys the same policies, and is pull only', { skip: skipUnlessTools('htpasswd'), timeout: 60_000 }, () => {
  test('a user granted push on a proxied namespace still cannot push there; one without pull is refused before any upstream is asked', async () => {
    const dir = await tempDir('auth-proxy');
    const htpasswd = join(dir, 'htpasswd');
    await addHtpasswdUsers(htpasswd, { erin: 'erin-pw', frank: 'frank-pw' }, { create: true });
    // The upstream is a port nothing listens on: every answer below comes before any upstream request.
    const guarded = await listen({
      storage: { filesystem: { rootDirectory: join(dir, 'root') } },
      auth: { htpasswd: { path: htpasswd } },
      accessControl: { repositories: { 'mirror/**': { policies: [{ users: ['erin'], actions: ['pull', 'push', 'delete'] }] } } },
      proxy: { upstreams: [{ name: 'mirror', url: 'http://127.0.0.1:9' }], airGapped: true },
    });
    try {
      const push = await fetch(`${guarded.url}/v2/mirror/library/alpine/blobs/uploads/`, { method: 'POST', headers: basicHeaders('erin', 'erin-pw') });
      assert.equal(push.status, 405, 'the cache refuses writes whatever the policy grants');
      assert.equal(await errorCode(push), 'UNSUPPORTED');
      const refused = await fetch(`${guarded.url}/v2/mirror/library/alpine/manifests/latest`, { headers: basicHeaders('frank', 'frank-pw') });
      assert.equal(refused.status, 403);
      assert.equal(await errorCode(refused), 'DENIED');
      const allowed = await fetch(`${guarded.url}/v2/mirror/library/alpine/manifests/latest`, { headers: basicHeaders('erin', 'erin-pw') });
      assert.equal(allowed.status, 404, 'erin may pull: the air-gapped cache has nothing, and says so');
    } finally {
      await guarded.app.server.close();
      await cleanup(dir);
    }
  });
});

describe('htpasswd without accessControl: authenticated users may do everything, anonymous requests nothing', { skip: skipUnlessTools('htpasswd'), timeout: 60_000 }, () => {
  test('anonymous → 401 with the challenge everywhere, even the version check; a user → 200 and may push', async () => {
    const dir = await tempDir('auth-only');
    const htpasswd = join(dir, 'htpasswd');
    await addHtpasswdUsers(htpasswd, { carol: 'carol-pw' }, { create: true });
    const guarded = await listen({ storage: { filesystem: { rootDirectory: join(dir, 'root') } }, auth: { htpasswd: { path: htpasswd }, realm: 'my registry' } });
    try {
      const ping = await fetch(`${guarded.url}/v2/`);
      assert.equal(ping.status, 401);
      assert.equal(ping.headers.get('www-authenticate'), 'Basic realm="my registry", charset="UTF-8"');
      const authorization = `Basic ${Buffer.from('carol:carol-pw').toString('base64')}`;
      assert.equal((await fetch(`${guarded.url}/v2/`, { headers: { authorization } })).status, 200);
      assert.equal((await fetch(`${guarded.url}/v2/any/thing/blobs/uploads/`, { method: 'POST', headers: { authorization } })).status, 202);
      assert.equal((await fetch(`${guarded.url}/v2/_catalog`)).status, 401);
      const bearer = await fetch(`${guarded.url}/v2/`, { headers: { authorization: 'Bearer abc' } });
      assert.equal(bearer.status, 401);
    } finally {
      await guarded.app.server.close();
      await cleanup(dir);
    }
  });

  test('a config error names the key: a missing htpasswd file, an entry that is not bcrypt, a policy naming an unknown group or action', async () => {
    const dir = await tempDir('auth-config');
    try {
      const missing = join(dir, 'missing');
      await assert.rejects(buildApp(validateConfig({ storage: { filesystem: { rootDirectory: join(dir, 'a') } }, auth: { htpasswd: { path: missing } } }), { logger: memoryLogger('warn').logger }), /auth\.htpasswd\.path: .*missing does not exist/);
      const md5 = join(dir, 'md5');
      await run('htpasswd', ['-cbm', md5, 'dave', 'dave-pw']);
      await assert.rejects(buildApp(validateConfig({ storage: { filesystem: { rootDirectory: join(dir, 'b') } }, auth: { htpasswd: { path: md5 } } }), { logger: memoryLogger('warn').logger }), /auth\.htpasswd\.path: .*md5:1: the password of "dave" is not a bcrypt hash/);
      const file = join(dir, 'porthole.yaml');
      await writeFile(file, `auth:\n  htpasswd:\n    path: ${md5}\n`);
      const verified = await runCli(['verify', file]);
      assert.equal(verified.code, 2, 'porthole verify reads the htpasswd file too');
      assert.match(verified.stderr, /auth\.htpasswd\.path: .*md5:1: the password of "dave" is not a bcrypt hash/);
      assert.throws(() => validateConfig({ accessControl: { repositories: { '**': { policies: [{ groups: ['nobody'], actions: ['pull'] }] } } } }), /accessControl\.repositories\.\*\*\.policies\.0\.groups\.0.*"nobody"/s);
      assert.throws(() => validateConfig({ accessControl: { repositories: { '**': { anonymousPolicy: ['read' as 'pull'] } } } }), /accessControl\.repositories\.\*\*\.anonymousPolicy\.0/);
    } finally {
      await cleanup(dir);
    }
  });
});
