import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import type { PortholeConfigInput } from '../../src/config/schema.js';
import type { AuditEvent } from '../../src/observability/audit.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

/**
 * extensions.metrics.auth at the handler level (buildApp + inject): who may read the metrics in
 * full and minimal mode, on the main listener and on a port of its own, what a refusal looks
 * like, the config errors, and the token file's rotation. The password file is made by Apache's
 * htpasswd. Real Prometheus and porthole-exporter against it: metrics-auth-scrapers.test.ts.
 */

const REALM = 'metrics-realm';
const PASSWORDS = { prometheus: 'prom-pass-7a1c', alice: 'alice-pass-4d2e' } as const;
const TOKEN = 'metrics-token-0b9f3e51d7';
const BASIC_CHALLENGE = `Basic realm="${REALM}", charset="UTF-8"`;
const BEARER_CHALLENGE = `Bearer realm="${REALM}"`;

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function configError(work: () => unknown): string[] {
  try {
    work();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return assert.fail('expected a ConfigError');
}

describe('extensions.metrics.auth', { skip: skipUnlessTools('htpasswd'), timeout: 60_000 }, () => {
  let work = '';
  let htpasswd = '';
  let tokenFile = '';
  const apps: PortholeApp[] = [];
  const audit: AuditEvent[] = [];
  const logged = memoryLogger('debug');

  before(async () => {
    work = await tempDir('metrics-auth');
    htpasswd = join(work, 'htpasswd');
    tokenFile = join(work, 'metrics-token');
    await addHtpasswdUsers(htpasswd, { prometheus: PASSWORDS.prometheus, alice: PASSWORDS.alice }, { create: true });
    // A trailing newline, as `echo` leaves it: not part of the token.
    await writeFile(tokenFile, `${TOKEN}\n`);
  });

  after(async () => {
    await Promise.all(apps.map((app) => app.server.close()));
    await cleanup(work);
  });

  /** A porthole with auth.htpasswd (realm REALM) and `metrics` as its extensions.metrics. */
  async function appWith(metrics: NonNullable<PortholeConfigInput['extensions']>['metrics'], root: string): Promise<PortholeApp> {
    const config = validateConfig({
      storage: { rootDirectory: join(work, root) },
      auth: { htpasswd: { path: htpasswd }, realm: REALM },
      extensions: { metrics },
    });
    const app = await buildApp(config, { logger: logged.logger, auditor: { record: (event) => audit.push(event) } });
    apps.push(app);
    return app;
  }

  const get = (app: PortholeApp, headers: Record<string, string> = {}, url = '/metrics', method: 'GET' | 'HEAD' = 'GET'): Promise<LightMyRequestResponse> =>
    app.server.inject({ method, url, headers });

  describe('full mode, with users and a token', () => {
    let app: PortholeApp;
    before(async () => {
      app = await appWith({ auth: { users: ['prometheus'], bearerTokenFile: tokenFile } }, 'full');
    });

    test('without credentials: 401 with the Basic challenge of auth.realm, and a line of text saying why', async () => {
      const refused = await get(app);
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.headers['www-authenticate'], BASIC_CHALLENGE);
      assert.match(String(refused.headers['content-type']), /^text\/plain/);
      assert.equal(refused.body, 'credentials are required to read the metrics\n');
      assert.ok(!refused.body.includes('porthole_info'), 'no metric in a refusal');
      const head = await get(app, {}, '/metrics', 'HEAD');
      assert.equal(head.statusCode, 401, 'HEAD is guarded too');
    });

    test('a user of `users` reads the metrics; a wrong password is 401; a valid user not in `users` is 403', async () => {
      const allowed = await get(app, basicHeaders('prometheus', PASSWORDS.prometheus));
      assert.equal(allowed.statusCode, 200);
      assert.match(allowed.body, /^porthole_info\{/m);
      const wrong = await get(app, basicHeaders('prometheus', 'not-the-password'));
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.headers['www-authenticate'], BASIC_CHALLENGE);
      assert.equal((await get(app, basicHeaders('nobody', 'x'))).statusCode, 401, 'an unknown user as a wrong password');
      const denied = await get(app, basicHeaders('alice', PASSWORDS.alice));
      assert.equal(denied.statusCode, 403);
      assert.equal(denied.headers['www-authenticate'], undefined);
      assert.equal(denied.body, 'alice may not read the metrics (extensions.metrics.auth.users)\n');
    });

    test('the token of bearerTokenFile reads the metrics; another token, or another scheme, is 401', async () => {
      assert.equal((await get(app, bearer(TOKEN))).statusCode, 200);
      for (const headers of [bearer(`${TOKEN}x`), bearer(TOKEN.slice(0, -1)), bearer(''), { authorization: `Digest ${TOKEN}` }, { authorization: 'Bearer' }]) {
        const refused = await get(app, headers);
        assert.equal(refused.statusCode, 401, headers.authorization);
        assert.equal(refused.headers['www-authenticate'], BASIC_CHALLENGE);
      }
    });

    test('the health endpoints stay open, and /v2 keeps its own rules', async () => {
      for (const url of ['/livez', '/readyz', '/startupz']) assert.equal((await get(app, {}, url)).statusCode, 200, url);
      assert.equal((await get(app, basicHeaders('alice', PASSWORDS.alice), '/v2/')).statusCode, 200, 'alice, denied the metrics, is a user of the registry');
      assert.equal((await get(app, bearer(TOKEN), '/v2/')).statusCode, 401, 'the metrics token is no credential of the registry');
    });

    test('Basic attempts are counted and failures audited as the registry\'s; a wrong token is audited; no secret in the log or the audit', async () => {
      const metrics = (await get(app, basicHeaders('prometheus', PASSWORDS.prometheus))).body;
      assert.match(metrics, /^porthole_auth_attempts_total\{method="basic",outcome="failure"\} [1-9]/m);
      const failures = audit.filter((event) => event.action === 'auth.login' && event.outcome === 'failure');
      assert.ok(failures.some((event) => event.subject === 'prometheus' && event.detail === 'wrong user name or password'));
      assert.ok(failures.some((event) => event.subject === 'anonymous' && event.detail === 'wrong metrics bearer token'));
      const written = JSON.stringify(audit) + JSON.stringify(logged.lines);
      for (const secret of [...Object.values(PASSWORDS), 'not-the-password', TOKEN, Buffer.from(`prometheus:${PASSWORDS.prometheus}`).toString('base64')]) {
        assert.ok(!written.includes(secret), `the log or the audit holds ${secret}`);
      }
      const lines = logged.lines.filter((line) => line.msg === 'request served' && line.path === '/metrics' && line.status === 200);
      assert.ok(lines.some((line) => line.user === 'prometheus'), 'the access line of a scrape names its user');
    });
  });

  test('a token alone: the challenge is Bearer, and Basic credentials are not taken', async () => {
    const app = await appWith({ auth: { bearerTokenFile: tokenFile } }, 'token-only');
    const refused = await get(app);
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['www-authenticate'], BEARER_CHALLENGE);
    assert.equal((await get(app, basicHeaders('prometheus', PASSWORDS.prometheus))).statusCode, 401);
    assert.equal((await get(app, bearer(TOKEN))).statusCode, 200);
  });

  test('on a port of its own (extensions.metrics.port) the metrics are guarded the same', async () => {
    const app = await appWith({ port: 0, auth: { users: ['prometheus'] } }, 'own-port');
    const listener = app.metricsListener;
    assert.ok(listener, 'a separate listener');
    assert.equal((await listener.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal((await listener.inject({ method: 'GET', url: '/metrics', headers: basicHeaders('alice', PASSWORDS.alice) })).statusCode, 403);
    assert.equal((await listener.inject({ method: 'GET', url: '/metrics', headers: basicHeaders('prometheus', PASSWORDS.prometheus) })).statusCode, 200);
  });

  test('minimal mode: the snapshot is guarded, and a refused fetch does not switch collection on', async () => {
    const app = await appWith({ enable: false, auth: { users: ['prometheus'] } }, 'minimal');
    const { recorder } = app.telemetry;
    assert.equal(recorder.collecting, false);
    assert.equal((await get(app)).statusCode, 401);
    assert.equal((await get(app, basicHeaders('alice', PASSWORDS.alice))).statusCode, 403);
    assert.equal(recorder.collecting, false, 'refused fetches switched collection on');
    const snapshot = await get(app, basicHeaders('prometheus', PASSWORDS.prometheus));
    assert.equal(snapshot.statusCode, 200);
    assert.ok(Array.isArray(snapshot.json<{ metrics: unknown[] }>().metrics));
    assert.equal(recorder.collecting, true);
  });

  test('the token file is re-read when it changes: the new token is let in, the old one no more', async () => {
    const rotating = join(work, 'rotating-token');
    await writeFile(rotating, 'first-token');
    const app = await appWith({ auth: { bearerTokenFile: rotating } }, 'rotation');
    assert.equal((await get(app, bearer('first-token'))).statusCode, 200);
    await writeFile(rotating, 'the-second-token\n');
    // The file is looked at every second.
    await waitFor('the new token to be let in', async () => (await get(app, bearer('the-second-token'))).statusCode === 200, 5_000);
    assert.equal((await get(app, bearer('first-token'))).statusCode, 401);
    // A file emptied by mistake leaves the token in force, and says so.
    await writeFile(rotating, '');
    await waitFor('the error line', () => logged.lines.some((line) => line.msg === 'token file changed but could not be read; the token read before stays in force'), 5_000);
    assert.equal((await get(app, bearer('the-second-token'))).statusCode, 200);
  });

  test('config errors name the key: users without auth.htpasswd, an empty block, a token file that cannot be read or is empty', async () => {
    assert.deepEqual(
      configError(() => validateConfig({ extensions: { metrics: { auth: { users: ['prometheus'] } } } })),
      ['extensions.metrics.auth.users: needs auth.htpasswd, the file these users are checked against'],
    );
    assert.deepEqual(configError(() => validateConfig({ extensions: { metrics: { auth: {} } } })), [
      'extensions.metrics.auth: give users, bearerTokenFile or both (without this block the metrics are open)',
    ]);
    const empty = join(work, 'empty-token');
    await writeFile(empty, ' \n');
    for (const [file, problem] of [
      [join(work, 'no-such-token'), `cannot read ${join(work, 'no-such-token')} (ENOENT)`],
      [empty, `${empty} is empty`],
    ] as const) {
      const config = validateConfig({ storage: { rootDirectory: join(work, 'bad-token') }, extensions: { metrics: { auth: { bearerTokenFile: file } } } });
      await assert.rejects(buildApp(config, { logger: logged.logger }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [`extensions.metrics.auth.bearerTokenFile: ${problem}`]);
        return true;
      });
    }
  });

  test('porthole serve stops with exit 2 naming the key; porthole verify reports it too', async () => {
    const file = join(work, 'bad.yaml');
    await writeFile(file, `storage: {rootDirectory: ${JSON.stringify(join(work, 'cli'))}}\nextensions:\n  metrics:\n    auth: {bearerTokenFile: ${JSON.stringify(join(work, 'missing'))}}\n`);
    const served = await runCli(['serve', '--config', file, '--port', '0']);
    assert.equal(served.code, 2, served.stderr);
    assert.match(served.stderr, /extensions\.metrics\.auth\.bearerTokenFile: cannot read .*missing \(ENOENT\)/);
    const verified = await runCli(['verify', file]);
    assert.equal(verified.code, 2, verified.stderr);
    assert.match(verified.stderr, /extensions\.metrics\.auth\.bearerTokenFile: cannot read .*missing \(ENOENT\)/);
  });
});
