import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { CommandError, runCommand } from '../e2e/run-command.js';
import { parseSkopeoJson, type SkopeoInspect } from '../e2e/skopeo-output.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { assertError, assertStatus, header } from '../helpers/assert-registry.js';
import { logLines } from '../helpers/log-lines.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { diffTrees, snapshotTree } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import type { AccessLine, AuditLine } from '../logging/json-lines.js';
import { readJsonLines } from '../logging/json-lines.js';
import { basicAuthorization } from '../helpers/basic-auth.js';
import { pathExists } from '../helpers/path-exists.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

/**
 * HTTP Basic authentication from an htpasswd file, against REAL clients, no mocks: skopeo from
 * Debian pushes, pulls, inspects and logs in, and the htpasswd file is written by Apache's own
 * `htpasswd` tool (apache2-utils, bcrypt entries with -B), before and while porthole runs. Raw
 * HTTP requests (test/helpers/raw-http.ts) look at what the clients do not show: the challenge,
 * the OCI error bodies, 401 against 403.
 *
 * One porthole for the whole suite, with access control: team/** for ci, dora and the dev group
 * (alice), public/** pullable by anyone, and an admin on everything. The tests run in order (the
 * last ones look at what the earlier ones left in the audit log and the output).
 *
 * What the clients need of the version check: containers/image (skopeo, podman, buildah) learns
 * the authentication scheme from the WWW-Authenticate header of its GET /v2/ ping only; a ping
 * answered without a challenge makes it send no credentials at all, to any repository, and
 * `skopeo login` then "succeeds" whatever the password. With a challenge, a client without
 * credentials sends an empty Basic pair (`Basic Og==`), which must still count as anonymous for
 * the public repositories to be pullable.
 */

const TEST_TIMEOUT = 30_000;
const REALM = 'porthole';
const CHALLENGE = `Basic realm="${REALM}", charset="UTF-8"`;

/** Every user and password of the suite, good and bad: none may ever reach a log. */
const USERS = { alice: 'secret-a', ci: 'secret-ci', admin: 'secret-admin', dora: 'secret-d' } as const;
const WRONG_PASSWORD = 'wrong-pass-9f3c';

describe('HTTP Basic auth from htpasswd, with skopeo', { skip: skipUnlessTools('skopeo', 'htpasswd'), timeout: 120_000 }, () => {
  let work: string;
  let passwords: string;
  let auditLog: string;
  let porthole: PortholeProcess;
  let sandbox: ContainersSandbox;
  let image: LayoutDescription;

  const ref = (repository: string, tag = '1') => `docker://${porthole.host}/${repository}:${tag}`;
  const source = () => `oci:${image.dir}:${image.tag}`;
  const repositoryDir = (name: string) => join(porthole.root, 'repositories', ...name.split('/'));

  before(async () => {
    work = await tempDir('auth-basic-clients');
    passwords = join(work, 'htpasswd');
    auditLog = join(work, 'audit.log');
    await addHtpasswdUsers(passwords, { alice: USERS.alice, ci: USERS.ci, admin: USERS.admin }, { create: true });
    const config = [
      'auth:',
      `  htpasswd: {path: ${JSON.stringify(passwords)}}`,
      // The suite makes many failed logins from one address on purpose (dora before she exists):
      // the limits on guessing (tested in failed-logins.test.ts) are set out of its way.
      '  failedLogins: {limit: 1000, userLimit: 1000}',
      `  realm: ${REALM}`,
      'log:',
      `  audit: ${JSON.stringify(auditLog)}`,
      'accessControl:',
      '  groups: {dev: [alice]}',
      '  repositories:',
      '    "team/**": {policies: [{users: [ci, dora], groups: [dev], actions: [pull, push]}], defaultPolicy: [pull], anonymousPolicy: []}',
      '    "public/**": {anonymousPolicy: [pull]}',
      '  adminPolicy: {users: [admin], actions: [pull, push, delete]}',
      '',
    ].join('\n');
    [porthole, sandbox, image] = await Promise.all([
      startPorthole({ config }),
      ContainersSandbox.create(),
      buildOciLayout({ dir: join(work, 'image'), tag: 'v1', seed: 'auth-basic-clients', layers: 1, filesPerLayer: 1, fileBytes: 8 * 1024 }),
    ]);
  });

  after(async () => {
    await porthole?.stop();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  test('GET /v2/ without credentials carries the Basic challenge, from which skopeo takes the scheme of its credentials', { timeout: TEST_TIMEOUT }, async () => {
    const ping = await raw(porthole.url, { path: '/v2/' });
    assert.equal(header(ping, 'www-authenticate'), CHALLENGE, `GET /v2/ answered ${ping.status} ${JSON.stringify(ping.headers)}`);
    // With credentials the version check answers 200; with wrong ones 401.
    assertStatus(await raw(porthole.url, { path: '/v2/', headers: { authorization: basicAuthorization('ci', USERS.ci) } }), 200);
    assertError(await raw(porthole.url, { path: '/v2/', headers: { authorization: basicAuthorization('ci', WRONG_PASSWORD) } }), 401, 'UNAUTHORIZED');
  });

  test('skopeo copy with --dest-creds pushes into team/**, and inspect with --creds shows the digest', { timeout: TEST_TIMEOUT }, async () => {
    await sandbox.skopeo(['copy', '--quiet', '--dest-creds', `ci:${USERS.ci}`, '--dest-tls-verify=false', source(), ref('team/app')]);
    const inspected = await sandbox.skopeo(['inspect', '--creds', `ci:${USERS.ci}`, '--tls-verify=false', ref('team/app')]);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);
    assert.ok(await pathExists(join(repositoryDir('team/app'), '_manifests', 'tags', '1')), 'the tag is stored');

    // The access log names the user of the push.
    await waitFor('the access line of the manifest PUT', () => accessLines().some(isManifestPut('team/app')), 5_000);
    const puts = accessLines().filter(isManifestPut('team/app'));
    assert.deepEqual(
      puts.map((line) => line.user),
      ['ci'],
      'one manifest PUT, by ci',
    );
  });

  test('skopeo login --password-stdin into a temp authfile, then a copy with --dest-authfile', { timeout: TEST_TIMEOUT }, async () => {
    // A wrong password first: skopeo login checks it against the registry, and must fail.
    const refusedAuthfile = join(work, 'refused-auth.json');
    await assert.rejects(
      runCommand('skopeo', ['login', '--authfile', refusedAuthfile, '--username', 'alice', '--password-stdin', '--tls-verify=false', porthole.host], {
        env: sandbox.env,
        input: `${WRONG_PASSWORD}\n`,
        timeoutMs: 20_000,
      }),
      CommandError,
      'skopeo login with a wrong password must fail',
    );
    assert.equal(await pathExists(refusedAuthfile), false, 'a refused login saves nothing');

    const authfile = join(work, 'alice-auth.json');
    // runCommand, not sandbox.skopeo, to give skopeo the password on stdin; the sandbox's env keeps the machine's config out.
    await runCommand('skopeo', ['login', '--authfile', authfile, '--username', 'alice', '--password-stdin', '--tls-verify=false', porthole.host], {
      env: sandbox.env,
      input: `${USERS.alice}\n`,
      timeoutMs: 20_000,
    });
    const saved = JSON.parse(await readFile(authfile, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(saved.auths[porthole.host]?.auth, Buffer.from(`alice:${USERS.alice}`).toString('base64'), 'skopeo saved alice in the temp authfile');

    await sandbox.skopeo(['copy', '--quiet', '--dest-authfile', authfile, '--dest-tls-verify=false', source(), ref('team/lib')]);
    const manifest = await raw(porthole.url, { path: '/v2/team/lib/manifests/1', headers: { authorization: basicAuthorization('alice', USERS.alice), accept: image.root.mediaType } });
    assertStatus(manifest, 200);
    assert.equal(header(manifest, 'docker-content-digest'), image.root.digest);
  });

  test('a copy with a wrong password fails, and nothing new is stored', { timeout: TEST_TIMEOUT }, async () => {
    const before = await snapshotTree(porthole.root);
    const failure = await sandbox.skopeo(['copy', '--quiet', '--dest-creds', `ci:${WRONG_PASSWORD}`, '--dest-tls-verify=false', source(), ref('team/bad')]).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failure instanceof CommandError, `skopeo copy with a wrong password must fail: ${String(failure)}`);
    assert.notEqual(failure.code, 0);
    assert.match(failure.result.stderr, /unauthorized|authentication required|401/i);
    assert.equal(await pathExists(repositoryDir('team/bad')), false, 'no repository directory for team/bad');
    assert.deepEqual(diffTrees(before, await snapshotTree(porthole.root)), { added: [], removed: [], changed: [] }, 'storage is unchanged');
    // It failed because porthole checked ci's password, not because skopeo sent none.
    await waitFor('the auth.login failure of ci', async () => (await readAudit()).some((line) => line.action === 'auth.login' && line.outcome === 'failure' && line.subject === 'ci'), 5_000);
  });

  test('an anonymous copy into team/** fails; a raw POST gets 401 UNAUTHORIZED with the Basic challenge', { timeout: TEST_TIMEOUT }, async () => {
    const failure = await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', source(), ref('team/anon')]).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failure instanceof CommandError, `an anonymous skopeo copy must fail: ${String(failure)}`);
    assert.equal(await pathExists(repositoryDir('team/anon')), false, 'no repository directory for team/anon');

    const response = await raw(porthole.url, { method: 'POST', path: '/v2/team/anon/blobs/uploads/', headers: { 'content-length': 0 } });
    assertError(response, 401, 'UNAUTHORIZED');
    assert.ok(header(response, 'www-authenticate')?.startsWith(`Basic realm="${REALM}"`), `challenge: ${header(response, 'www-authenticate')}`);
    assert.equal(header(response, 'www-authenticate'), CHALLENGE);
  });

  test('alice (group dev) may push into team/**; ci gets 403 DENIED pushing to public/x', { timeout: TEST_TIMEOUT }, async () => {
    const started = await raw(porthole.url, { method: 'POST', path: '/v2/team/by-alice/blobs/uploads/', headers: { 'content-length': 0, authorization: basicAuthorization('alice', USERS.alice) } });
    assertStatus(started, 202);
    const location = header(started, 'location') ?? '';
    assertStatus(await raw(porthole.url, { method: 'DELETE', path: new URL(location, porthole.url).pathname, headers: { authorization: basicAuthorization('alice', USERS.alice) } }), 204);

    const denied = await raw(porthole.url, { method: 'POST', path: '/v2/public/x/blobs/uploads/', headers: { 'content-length': 0, authorization: basicAuthorization('ci', USERS.ci) } });
    assertError(denied, 403, 'DENIED');
    assert.equal(header(denied, 'www-authenticate'), undefined, 'a 403 carries no challenge: logging in again would not help');
    // ci may not push there with skopeo either.
    await assert.rejects(sandbox.skopeo(['copy', '--quiet', '--dest-creds', `ci:${USERS.ci}`, '--dest-tls-verify=false', source(), ref('public/x')]), CommandError);
    assert.equal(await pathExists(repositoryDir('public/x')), false, 'no repository directory for public/x');
  });

  test('an admin pushes to public/base; skopeo inspects it there without credentials', { timeout: TEST_TIMEOUT }, async () => {
    await sandbox.skopeo(['copy', '--quiet', '--dest-creds', `admin:${USERS.admin}`, '--dest-tls-verify=false', source(), ref('public/base')]);
    const inspected = await sandbox.skopeo(['inspect', '--tls-verify=false', ref('public/base')]);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);
    const anonymousRead = (line: AccessLine) => line.repo === 'public/base' && line.method === 'GET' && line.route === '/v2/:name/manifests/:reference' && line.status === 200;
    await waitFor('the access line of the anonymous manifest GET', () => accessLines().some(anonymousRead), 5_000);
    assert.deepEqual([...new Set(accessLines().filter(anonymousRead).map((line) => line.user))], ['anonymous'], 'skopeo read public/base as anonymous');
    // Anonymous reads stop at public/**: team/app is there, but not for anonymous requests.
    await assert.rejects(sandbox.skopeo(['inspect', '--tls-verify=false', ref('team/app')]), CommandError);
    const refused = await raw(porthole.url, { path: '/v2/team/app/manifests/1', headers: { accept: image.root.mediaType } });
    assertError(refused, 401, 'UNAUTHORIZED');
  });

  test('a user added to the htpasswd file while porthole runs can log in within seconds', { timeout: TEST_TIMEOUT }, async () => {
    const asDora = { authorization: basicAuthorization('dora', USERS.dora) };
    assertError(await raw(porthole.url, { path: '/v2/', headers: asDora }), 401, 'UNAUTHORIZED');

    const added = Date.now();
    await addHtpasswdUsers(passwords, { dora: USERS.dora });
    // The file is polled every second: a bounded wait, well above that.
    await waitFor('dora to be accepted', async () => (await raw(porthole.url, { path: '/v2/', headers: asDora })).status === 200, 10_000);
    assert.ok(Date.now() - added < 5_000, `dora was accepted ${Date.now() - added} ms after htpasswd added her`);
    // Log lines are written at the end of the event-loop turn that logged them: waited for, not assumed.
    await waitFor('porthole to say it re-read the file', () => logLines(porthole.stdout()).some((line) => line.msg === 'htpasswd file re-read'), 5_000);
    // Her policy applies at once: a raw upload to team/** starts.
    const started = await raw(porthole.url, { method: 'POST', path: '/v2/team/dora-raw/blobs/uploads/', headers: { 'content-length': 0, ...asDora } });
    assertStatus(started, 202);
    assertStatus(await raw(porthole.url, { method: 'DELETE', path: new URL(header(started, 'location') ?? '', porthole.url).pathname, headers: asDora }), 204);

    const authfile = join(work, 'dora-auth.json');
    await runCommand('skopeo', ['login', '--authfile', authfile, '--username', 'dora', '--password-stdin', '--tls-verify=false', porthole.host], {
      env: sandbox.env,
      input: `${USERS.dora}\n`,
      timeoutMs: 20_000,
    });
    await sandbox.skopeo(['copy', '--quiet', '--dest-authfile', authfile, '--dest-tls-verify=false', source(), ref('team/dora')]);
    const inspected = await sandbox.skopeo(['inspect', '--creds', `dora:${USERS.dora}`, '--tls-verify=false', ref('team/dora')]);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);
    // The users from before the reload still work.
    assertStatus(await raw(porthole.url, { path: '/v2/', headers: { authorization: basicAuthorization('ci', USERS.ci) } }), 200);
  });

  test('no password, plain or base64, reaches the audit log or the output', { timeout: TEST_TIMEOUT }, async () => {
    // One more wrong password by hand, so that this test has a failure to look at when run alone.
    assertError(await raw(porthole.url, { path: '/v2/team/app/tags/list', headers: { authorization: basicAuthorization('alice', WRONG_PASSWORD) } }), 401, 'UNAUTHORIZED');
    await waitFor("the audit line of alice's wrong password", async () => loginFailures(await readAudit()).some((line) => line.subject === 'alice'), 5_000);
    await waitFor('the access line of that request', () => accessLines().some((line) => line.status === 401 && line.path === '/v2/team/app/tags/list'), 5_000);

    const secrets = [...Object.values(USERS), WRONG_PASSWORD];
    const encoded = [...Object.entries(USERS), ['ci', WRONG_PASSWORD], ['alice', WRONG_PASSWORD]].map(([user, password]) => Buffer.from(`${user}:${password}`).toString('base64'));
    const auditText = await readFile(auditLog, 'utf8');
    const output = porthole.output();
    for (const secret of [...secrets, ...encoded]) {
      assert.equal(auditText.includes(secret), false, `the audit log holds ${secret}`);
      assert.equal(output.includes(secret), false, `porthole's output holds ${secret}`);
    }
    // The output is the one to look in: it has the access lines of all of the above.
    assert.ok(accessLines().some((line) => line.user === 'dora'), 'the access log names dora');
  });

  test('the failed logins above are in the audit log as auth.login failures, by user name', { timeout: TEST_TIMEOUT }, async () => {
    const failures = loginFailures(await readAudit());
    const subjects = new Set(failures.map((line) => line.subject));
    assert.ok(subjects.has('alice'), `the raw request with alice's wrong password is audited: ${JSON.stringify(failures).slice(0, 2000)}`);
    assert.ok(subjects.has('dora'), 'dora, before she was added, is audited');
    assert.ok(subjects.has('ci'), `skopeo's copy with ci's wrong password is audited (subjects: ${[...subjects].join(', ')})`);
    for (const line of failures) {
      assert.equal(line.clientIP, '127.0.0.1');
      assert.equal(typeof line.reqId, 'string');
      assert.equal(line.detail, 'wrong user name or password');
    }
  });

  function loginFailures(lines: AuditLine[]): AuditLine[] {
    return lines.filter((line) => line.action === 'auth.login' && line.outcome === 'failure');
  }

  function accessLines(): AccessLine[] {
    return logLines(porthole.stdout()).filter((line) => line.msg === 'request served') as unknown as AccessLine[];
  }

  function isManifestPut(repository: string): (line: AccessLine) => boolean {
    return (line) => line.repo === repository && line.method === 'PUT' && line.route === '/v2/:name/manifests/:reference' && line.status === 201;
  }

  async function readAudit(): Promise<AuditLine[]> {
    // A line still being written makes the strict reader throw: it is read again on the next poll.
    return readJsonLines<AuditLine>(auditLog).catch(() => []);
  }
});
