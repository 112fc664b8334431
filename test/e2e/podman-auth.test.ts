/**
 * podman against porthole with HTTP Basic authentication and access control, no mocks: the client
 * is the REAL podman from Debian (podman 4.3, containers/image underneath), and the htpasswd file
 * is written by Apache's own `htpasswd` (apache2-utils, bcrypt entries with -B). Plain HTTP, so
 * every podman command has --tls-verify=false.
 *
 * One porthole for the file (the e2e suite's useE2eSuite starts one without a config, so this file
 * starts its own with startPorthole({config})), with:
 *   - team/**: push and pull for dev, nothing for anonymous clients;
 *   - public/**: pull for anyone (anonymousPolicy);
 *   - admin: pull, push and delete everywhere (adminPolicy).
 * Each podman command runs in a throwaway PodmanStore inside a ContainersSandbox, whose empty
 * REGISTRY_AUTH_FILE makes a command without --authfile or --creds anonymous. `podman login` writes
 * to a temp --authfile of its own, never the user's. Images are made with `podman import` of a tar
 * no registry has seen (as podman.test.ts does for its push), each with content of its own, so
 * that podman must upload every blob rather than mount it from an earlier push.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seededBytes } from '../fixtures/seeded-bytes.js';
import { createTar } from '../fixtures/tar.js';
import { assertError, assertStatus, header } from '../helpers/assert-registry.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { diffTrees, snapshotTree } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { readJsonLines, type AuditLine } from '../logging/json-lines.js';
import { accessLines, accessLogUntil, type AccessLine } from './access-log.js';
import { ContainersSandbox } from './containers-sandbox.js';
import { PodmanStore } from './podman-store.js';
import { CommandError, type CommandResult } from './run-command.js';
import { basicAuthorization } from '../helpers/basic-auth.js';
import { pathExists } from '../helpers/path-exists.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

const TEST_TIMEOUT = 40_000;
/** The bound on each podman command: well inside a test's timeout. */
const COMMAND_TIMEOUT = 25_000;
const CHALLENGE = 'Basic realm="porthole", charset="UTF-8"';
const USERS = { dev: 'dev-secret-7d1e', admin: 'admin-secret-41b9' } as const;
const WRONG_PASSWORD = 'wrong-pass-c2a8';
const MANIFEST_ROUTE = '/v2/:name/manifests/:reference';

/** The access line of porthole as logged, with the user this file looks at. */
type UserAccessLine = AccessLine & { user?: string };

/** The parts of `podman image inspect` (podman 4.3) the tests look at. */
interface PodmanImage {
  Id: string;
  RootFS: { Type: string; Layers: string[] };
}

/** Resolves with the CommandError of a command that must fail; fails the test when it succeeds. */
async function failure(command: Promise<CommandResult>, what: string): Promise<CommandError> {
  const outcome = await command.then(
    (result) => result,
    (err: unknown) => err,
  );
  assert.ok(outcome instanceof CommandError, `${what} must fail; it ${outcome instanceof Error ? `threw ${outcome.message}` : `succeeded: ${JSON.stringify(outcome)}`}`);
  assert.notEqual(outcome.code, 0);
  return outcome;
}

describe('podman against porthole with HTTP Basic auth and access control', { skip: skipUnlessTools('podman', 'htpasswd'), timeout: 90_000 }, () => {
  let work: string;
  let porthole: PortholeProcess;
  let sandbox: ContainersSandbox;
  let auditLog: string;

  const reference = (repository: string, tag = '1') => `${porthole.host}/${repository}:${tag}`;
  const repositoryDir = (name: string) => join(porthole.root, 'repositories', ...name.split('/'));
  // A line still being written fails the strict parse: the next poll reads it whole.
  const audit = () => readJsonLines<AuditLine>(auditLog).catch((): AuditLine[] => []);
  const logged = () => accessLines(porthole.output()) as UserAccessLine[];

  before(async () => {
    work = await tempDir('e2e-podman-auth');
    const passwords = join(work, 'htpasswd');
    auditLog = join(work, 'audit.log');
    await addHtpasswdUsers(passwords, { dev: USERS.dev, admin: USERS.admin }, { create: true });
    const config = [
      'auth:',
      `  htpasswd: {path: ${JSON.stringify(passwords)}}`,
      'log:',
      `  audit: ${JSON.stringify(auditLog)}`,
      'accessControl:',
      '  repositories:',
      '    "team/**": {policies: [{users: [dev], actions: [pull, push]}], anonymousPolicy: []}',
      '    "public/**": {anonymousPolicy: [pull]}',
      '  adminPolicy: {users: [admin], actions: [pull, push, delete]}',
      '',
    ].join('\n');
    [porthole, sandbox] = await Promise.all([startPorthole({ config }), ContainersSandbox.create()]);
  });

  after(async () => {
    await porthole?.stop();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  async function withStore<T>(use: (store: PodmanStore) => Promise<T>): Promise<T> {
    const store = await PodmanStore.create(sandbox);
    try {
      return await use(store);
    } finally {
      await store.dispose();
    }
  }

  function login(store: PodmanStore, authfile: string, user: string, password: string): Promise<CommandResult> {
    return store.podman(['login', '--username', user, '--password-stdin', '--tls-verify=false', '--authfile', authfile, porthole.host], COMMAND_TIMEOUT, `${password}\n`);
  }

  let devLogin: Promise<string> | undefined;
  /** The authfile `podman login` wrote for dev, once: tests may run alone, so each asks for it. */
  function devAuthfile(): Promise<string> {
    devLogin ??= withStore(async (store) => {
      const authfile = join(work, 'dev-auth.json');
      await login(store, authfile, 'dev', USERS.dev);
      return authfile;
    });
    return devLogin;
  }

  /** `podman import` of a tar of its own (a 64 KiB file from `seed`) as `ref`; its inspect. */
  async function importImage(store: PodmanStore, ref: string, seed: string): Promise<PodmanImage> {
    const tarFile = join(work, `${seed}.tar`);
    await writeFile(tarFile, createTar([{ path: 'data', type: 'directory' }, { path: `data/${seed}.bin`, type: 'file', content: seededBytes(seed, 64 * 1024) }]));
    await store.podman(['import', '--quiet', tarFile, ref], COMMAND_TIMEOUT);
    const images = JSON.parse((await store.podman(['image', 'inspect', ref], COMMAND_TIMEOUT)).stdout) as PodmanImage[];
    assert.equal(images.length, 1);
    return images[0] as PodmanImage;
  }

  /** Pulls `ref` into a fresh store and checks podman has the image that was pushed. */
  async function assertPulls(ref: string, pushed: PodmanImage, pullFlags: string[]): Promise<void> {
    await withStore(async (store) => {
      const pulled = await store.podman(['pull', '--quiet', '--tls-verify=false', ...pullFlags, ref], COMMAND_TIMEOUT);
      assert.equal(pulled.stdout.trim(), pushed.Id, 'podman pull prints the image ID of the image pushed');
      const images = JSON.parse((await store.podman(['image', 'inspect', ref], COMMAND_TIMEOUT)).stdout) as PodmanImage[];
      assert.equal(images[0]?.Id, pushed.Id);
      assert.deepEqual(images[0]?.RootFS.Layers, pushed.RootFS.Layers);
    });
  }

  let teamApp: Promise<PodmanImage> | undefined;
  /** dev pushes team/app:1 with the authfile of `podman login`, once; the image podman pushed. */
  function teamAppPushed(): Promise<PodmanImage> {
    teamApp ??= devAuthfile().then((authfile) =>
      withStore(async (store) => {
        const image = await importImage(store, reference('team/app'), 'podman-auth-team-app');
        await store.podman(['push', '--quiet', '--tls-verify=false', '--authfile', authfile, reference('team/app')], COMMAND_TIMEOUT);
        return image;
      }),
    );
    return teamApp;
  }

  test('podman login --password-stdin succeeds for dev into a temp authfile, and fails with a wrong password', { timeout: TEST_TIMEOUT }, async () => {
    // What podman learns the scheme from: the challenge of the version check.
    const ping = await raw(porthole.url, { path: '/v2/' });
    assertError(ping, 401, 'UNAUTHORIZED');
    assert.equal(header(ping, 'www-authenticate'), CHALLENGE);

    await withStore(async (store) => {
      // A wrong password first: podman login checks it against the registry, and must fail.
      const refusedAuthfile = join(work, 'refused-auth.json');
      const refused = await failure(login(store, refusedAuthfile, 'dev', WRONG_PASSWORD), 'podman login with a wrong password');
      assert.match(refused.result.stderr, /invalid username\/password|unauthorized|401/i);
      if (await pathExists(refusedAuthfile)) {
        const saved = JSON.parse(await readFile(refusedAuthfile, 'utf8')) as { auths?: Record<string, unknown> };
        assert.equal(saved.auths?.[porthole.host], undefined, 'a refused login saves no credentials');
      }
      // It failed because porthole checked dev's password and refused it, not for want of a connection.
      await waitFor('the audited failed login of dev', async () => (await audit()).some((line) => line.action === 'auth.login' && line.outcome === 'failure' && line.subject === 'dev'), 5_000);

      const authfile = join(work, 'login-auth.json');
      const loggedIn = await login(store, authfile, 'dev', USERS.dev);
      assert.match(loggedIn.stdout, /Login Succeeded/);
      const saved = JSON.parse(await readFile(authfile, 'utf8')) as { auths: Record<string, { auth: string }> };
      assert.equal(saved.auths[porthole.host]?.auth, Buffer.from(`dev:${USERS.dev}`).toString('base64'), 'podman saved dev in the temp authfile');
      await accessLogUntil(porthole.output, (line: UserAccessLine) => line.path === '/v2/' && line.status === 200 && line.user === 'dev');
    });
  });

  test('dev pushes team/app:1 with the authfile of podman login, and pulls it into a fresh store: same image ID', { timeout: TEST_TIMEOUT }, async () => {
    const pushed = await teamAppPushed();
    const puts = await accessLogUntil(porthole.output, (line) => line.method === 'PUT' && line.path === '/v2/team/app/manifests/1');
    const put = puts.at(-1) as UserAccessLine;
    assert.equal(put.status, 201, 'the manifest PUT was stored');
    assert.equal(put.user, 'dev', 'by dev');
    const uploads = (puts as UserAccessLine[]).filter((l) => l.repo === 'team/app' && l.method === 'PUT' && l.route === '/v2/:name/blobs/uploads/:id' && l.status === 201);
    assert.equal(uploads.length, 2, 'the layer and the config were uploaded');
    assert.ok(await pathExists(join(repositoryDir('team/app'), '_manifests', 'tags', '1')), 'the tag is stored');

    await assertPulls(reference('team/app'), pushed, ['--authfile', await devAuthfile()]);
    const pulls = logged().filter((l) => l.repo === 'team/app' && l.method === 'GET' && l.route === MANIFEST_ROUTE && l.status === 200);
    assert.ok(pulls.length > 0, 'podman fetched the manifest');
    assert.deepEqual([...new Set(pulls.map((l) => l.user))], ['dev'], 'as dev');
  });

  test('an anonymous push to team/** fails; an anonymous pull of team/** fails; an anonymous pull of what admin pushed to public/base works', { timeout: TEST_TIMEOUT }, async () => {
    await withStore(async (store) => {
      await importImage(store, reference('team/anon'), 'podman-auth-team-anon');
      const refused = await failure(store.podman(['push', '--quiet', '--tls-verify=false', reference('team/anon')], COMMAND_TIMEOUT), 'an anonymous podman push to team/anon');
      assert.match(refused.result.stderr, /unauthorized|authentication required|401/i);
    });
    assert.equal(await pathExists(repositoryDir('team/anon')), false, 'no repository directory for team/anon');
    // podman stops at its first refusal (the HEAD of a blob, whether it needs uploading).
    const anonymous = logged().filter((l) => l.repo === 'team/anon');
    assert.ok(anonymous.length > 0, 'podman asked porthole about team/anon');
    assert.deepEqual([...new Set(anonymous.map((l) => `${l.status} ${l.user}`))], ['401 anonymous'], 'and porthole answered every request with 401');

    // team/app exists (dev pushed it), but not for anonymous clients.
    await teamAppPushed();
    await withStore(async (store) => {
      const refused = await failure(store.podman(['pull', '--quiet', '--tls-verify=false', reference('team/app')], COMMAND_TIMEOUT), 'an anonymous podman pull of team/app');
      assert.match(refused.result.stderr, /unauthorized|authentication required|401/i);
    });

    const pushed = await withStore(async (store) => {
      const image = await importImage(store, reference('public/base'), 'podman-auth-public-base');
      await store.podman(['push', '--quiet', '--tls-verify=false', '--creds', `admin:${USERS.admin}`, reference('public/base')], COMMAND_TIMEOUT);
      return image;
    });
    const put = (await accessLogUntil(porthole.output, (line) => line.method === 'PUT' && line.path === '/v2/public/base/manifests/1')).at(-1) as UserAccessLine;
    assert.deepEqual([put.status, put.user], [201, 'admin'], 'admin pushed public/base:1');

    const from = logged().length;
    await assertPulls(reference('public/base'), pushed, []);
    await accessLogUntil(porthole.output, (line) => line.repo === 'public/base' && line.method === 'GET' && line.route === MANIFEST_ROUTE && line.status === 200);
    const reads = logged()
      .slice(from)
      .filter((l) => l.repo === 'public/base' && l.method === 'GET');
    assert.ok(reads.length > 0);
    assert.deepEqual([...new Set(reads.map((l) => `${l.status} ${l.user}`))], ['200 anonymous'], 'podman read public/base anonymously');
  });

  test('dev pushing to public/x:1 fails with 403 DENIED, and nothing of it is stored', { timeout: TEST_TIMEOUT }, async () => {
    const authfile = await devAuthfile();
    const before = await snapshotTree(porthole.root);
    await withStore(async (store) => {
      await importImage(store, reference('public/x'), 'podman-auth-public-x');
      const refused = await failure(store.podman(['push', '--quiet', '--tls-verify=false', '--authfile', authfile, reference('public/x')], COMMAND_TIMEOUT), 'dev pushing to public/x');
      assert.match(refused.result.stderr, /denied|403/i);
    });
    const posts = logged().filter((l) => l.repo === 'public/x' && l.method === 'POST');
    assert.ok(posts.length > 0, 'podman tried to upload');
    assert.deepEqual([...new Set(posts.map((l) => `${l.status} ${l.user}`))], ['403 dev'], 'porthole refused dev with 403');
    const writes = logged().filter((l) => l.repo === 'public/x' && (l.method === 'PUT' || l.method === 'PATCH') && l.status < 400);
    assert.deepEqual(writes, [], 'no write to public/x succeeded');

    assert.equal(await pathExists(repositoryDir('public/x')), false, 'no repositories/public/x');
    assert.deepEqual(diffTrees(before, await snapshotTree(porthole.root)), { added: [], removed: [], changed: [] }, 'storage is unchanged');
    // The same refusal, as a raw request shows it: 403 DENIED, without a challenge.
    const denied = await raw(porthole.url, { method: 'POST', path: '/v2/public/x/blobs/uploads/', headers: { 'content-length': 0, authorization: basicAuthorization('dev', USERS.dev) } });
    assertError(denied, 403, 'DENIED');
    assert.equal(header(denied, 'www-authenticate'), undefined);
    assertStatus(await raw(porthole.url, { path: '/v2/', headers: { authorization: basicAuthorization('dev', USERS.dev) } }), 200);
  });
});
