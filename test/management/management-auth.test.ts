import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { PortholeConfigInput } from '../../src/config/schema.js';
import type { AuditEvent } from '../../src/observability/audit.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { assertJobs, assertReplicas, assertRepositories, assertSummary } from './api-shapes.js';

/**
 * Who may read the management API: the auth matrix at the handler level (buildApp + inject), with
 * an htpasswd file made by Apache's htpasswd. Open without auth; with auth, admins
 * (accessControl.adminPolicy) and metrics readers (extensions.metrics.auth: its users by Basic,
 * its bearer token) and no one else, authenticated and challenged exactly as GET /v2/ does.
 */

const REALM = 'mgmt-realm';
const PASSWORDS = { admin: 'admin-pass-51c0', alice: 'alice-pass-9e2a', prometheus: 'prom-pass-77d3' } as const;
const METRICS_TOKEN = 'mgmt-metrics-token-4f1e0b';
const ROUTES = ['/api/v1/summary', '/api/v1/replicas', '/api/v1/jobs', '/api/v1/repositories'];
const BASIC_CHALLENGE = `Basic realm="${REALM}", charset="UTF-8"`;

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('management API: auth', { skip: skipUnlessTools('htpasswd'), timeout: 60_000 }, () => {
  let work = '';
  let htpasswd = '';
  let tokenFile = '';
  const apps: PortholeApp[] = [];
  const audit: AuditEvent[] = [];
  const logged = memoryLogger('info');

  before(async () => {
    work = await tempDir('management-auth');
    htpasswd = join(work, 'htpasswd');
    tokenFile = join(work, 'metrics-token');
    await addHtpasswdUsers(htpasswd, PASSWORDS, { create: true });
    await writeFile(tokenFile, `${METRICS_TOKEN}\n`);
  });

  after(async () => {
    await Promise.all(apps.map((app) => app.server.close()));
    await cleanup(work);
  });

  async function appWith(name: string, config: PortholeConfigInput): Promise<PortholeApp> {
    const app = await buildApp(validateConfig({ storage: { rootDirectory: join(work, name) }, ...config }), { logger: logged.logger, auditor: { record: (event) => audit.push(event) } });
    apps.push(app);
    return app;
  }

  const get = (app: PortholeApp, url: string, headers: Record<string, string> = {}, remoteAddress?: string): Promise<LightMyRequestResponse> =>
    app.server.inject({ method: 'GET', url, headers, ...(remoteAddress === undefined ? {} : { remoteAddress }) });

  /** Each route answers `status`; 200s are checked against the contract, refusals are OCI errors with `code`. */
  async function expectEveryRoute(app: PortholeApp, headers: Record<string, string>, status: number, code?: string): Promise<LightMyRequestResponse[]> {
    const answers: LightMyRequestResponse[] = [];
    for (const route of ROUTES) {
      const answer = await get(app, route, headers);
      assert.equal(answer.statusCode, status, `${route} with ${JSON.stringify(headers)}: ${answer.body}`);
      if (status === 200) {
        const body = answer.json() as unknown;
        if (route.endsWith('summary')) assertSummary(body);
        if (route.endsWith('replicas')) assertReplicas(body);
        if (route.endsWith('jobs')) assertJobs(body);
        if (route.endsWith('repositories')) assertRepositories(body);
      } else {
        assert.equal((answer.json() as { errors: Array<{ code: string }> }).errors[0]?.code, code, route);
      }
      answers.push(answer);
    }
    return answers;
  }

  test('without any auth configured the API is open, as /v2 is', async () => {
    const app = await appWith('open', {});
    await expectEveryRoute(app, {}, 200);
  });

  describe('htpasswd, accessControl with an admin, and guarded metrics', () => {
    let app: PortholeApp;

    before(async () => {
      app = await appWith('guarded', {
        auth: { htpasswd: { path: htpasswd }, realm: REALM, failedLogins: { limit: 3 } },
        accessControl: {
          repositories: { '**': { policies: [{ users: ['alice'], actions: ['pull', 'push'] }] } },
          adminPolicy: { users: ['admin'], actions: ['pull', 'push', 'delete'] },
        },
        extensions: { metrics: { auth: { users: ['prometheus'], bearerTokenFile: tokenFile } } },
      });
    });

    test('anonymous: 401 UNAUTHORIZED with the challenge GET /v2/ sends', async () => {
      const v2 = await get(app, '/v2/');
      assert.equal(v2.statusCode, 401);
      for (const answer of await expectEveryRoute(app, {}, 401, 'UNAUTHORIZED')) {
        assert.equal(answer.headers['www-authenticate'], v2.headers['www-authenticate']);
        assert.equal(answer.headers['www-authenticate'], BASIC_CHALLENGE);
      }
      // What skopeo sends once challenged without credentials (":") is anonymous too.
      await expectEveryRoute(app, { authorization: `Basic ${Buffer.from(':').toString('base64')}` }, 401, 'UNAUTHORIZED');
    });

    test('an admin reads every route; a user who is neither admin nor metrics reader gets 403 DENIED', async () => {
      await expectEveryRoute(app, basicHeaders('admin', PASSWORDS.admin), 200);
      const denied = await expectEveryRoute(app, basicHeaders('alice', PASSWORDS.alice), 403, 'DENIED');
      assert.equal(denied[0]?.headers['www-authenticate'], undefined, 'no challenge for a known user');
      assert.match((denied[0]?.json() as { errors: Array<{ message: string }> }).errors[0]?.message ?? '', /^alice may not read the management API/);
      // alice is still a user of the registry.
      assert.equal((await get(app, '/v2/', basicHeaders('alice', PASSWORDS.alice))).statusCode, 200);
    });

    test('a metrics reader reads every route, by Basic (extensions.metrics.auth.users) and by the metrics bearer token', async () => {
      await expectEveryRoute(app, basicHeaders('prometheus', PASSWORDS.prometheus), 200);
      await expectEveryRoute(app, bearer(METRICS_TOKEN), 200);
    });

    test('wrong credentials: 401 with the challenge, audited and counted as the gate counts them; no secret written', async () => {
      const wrong = await get(app, '/api/v1/summary', basicHeaders('admin', 'not-the-password'));
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.headers['www-authenticate'], BASIC_CHALLENGE);
      const wrongToken = await get(app, '/api/v1/summary', bearer(`${METRICS_TOKEN}x`));
      assert.equal(wrongToken.statusCode, 401);
      assert.equal(wrongToken.headers['www-authenticate'], BASIC_CHALLENGE);
      const failures = audit.filter((event) => event.action === 'auth.login' && event.outcome === 'failure');
      assert.ok(failures.some((event) => event.subject === 'admin' && event.detail === 'wrong user name or password'));
      assert.ok(failures.some((event) => event.subject === 'anonymous' && event.detail === 'wrong metrics bearer token'));
      const metrics = (await get(app, '/metrics', bearer(METRICS_TOKEN))).body;
      assert.match(metrics, /^porthole_auth_attempts_total\{method="basic",outcome="failure"\} [1-9]/m);
      assert.match(metrics, /^porthole_auth_attempts_total\{method="basic",outcome="success"\} [1-9]/m);
      const written = JSON.stringify(audit) + JSON.stringify(logged.lines);
      for (const secret of [...Object.values(PASSWORDS), 'not-the-password', METRICS_TOKEN]) assert.ok(!written.includes(secret), `${secret} written`);
    });

    test('the limits on failed logins hold here too: a locked address gets 429, even with the right password', async () => {
      const address = '10.9.8.7';
      for (let attempt = 0; attempt < 3; attempt += 1) assert.equal((await get(app, '/api/v1/jobs', basicHeaders('admin', `guess-${attempt}`), address)).statusCode, 401);
      const locked = await get(app, '/api/v1/jobs', basicHeaders('admin', PASSWORDS.admin), address);
      assert.equal(locked.statusCode, 429);
      assert.equal((locked.json() as { errors: Array<{ code: string }> }).errors[0]?.code, 'TOOMANYREQUESTS');
      assert.ok(Number(locked.headers['retry-after']) > 0);
      assert.equal((await get(app, '/api/v1/jobs', basicHeaders('admin', PASSWORDS.admin))).statusCode, 200, 'another address is not locked');
    });

    test('the access line names the user who read it, and the route by its own name', async () => {
      await get(app, '/api/v1/replicas', basicHeaders('admin', PASSWORDS.admin));
      const lines = logged.lines.filter((line) => line.msg === 'request served' && line.path === '/api/v1/replicas' && line.status === 200);
      assert.ok(lines.some((line) => line.user === 'admin' && line.route === '/api/v1/replicas'), JSON.stringify(lines));
    });
  });

  test('htpasswd without accessControl: every user may do everything, so every user is an admin', async () => {
    const app = await appWith('users-only', { auth: { htpasswd: { path: htpasswd }, realm: REALM } });
    await expectEveryRoute(app, {}, 401, 'UNAUTHORIZED');
    await expectEveryRoute(app, basicHeaders('alice', PASSWORDS.alice), 200);
  });

  test('bearer tokens of porthole\'s own realm: an admin\'s token reads, another user\'s is 403, a bad one 401 with /v2/\'s Bearer challenge', async () => {
    const app = await appWith('tokens', {
      auth: { htpasswd: { path: htpasswd }, realm: REALM, token: {} },
      accessControl: { repositories: { '**': { defaultPolicy: ['pull'] } }, adminPolicy: { users: ['admin'], actions: ['pull', 'push', 'delete'] } },
    });
    const tokenOf = async (user: keyof typeof PASSWORDS): Promise<string> => {
      const answer = await get(app, '/auth/token?service=porthole', basicHeaders(user, PASSWORDS[user]));
      assert.equal(answer.statusCode, 200, answer.body);
      return (answer.json() as { token: string }).token;
    };
    await expectEveryRoute(app, bearer(await tokenOf('admin')), 200);
    await expectEveryRoute(app, bearer(await tokenOf('alice')), 403, 'DENIED');
    const v2 = await get(app, '/v2/');
    const anonymous = await get(app, '/api/v1/summary');
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['www-authenticate'], v2.headers['www-authenticate']);
    assert.match(String(anonymous.headers['www-authenticate']), /^Bearer realm="http:\/\/localhost:80\/auth\/token",service="porthole"$/);
    const bad = await get(app, '/api/v1/summary', bearer('not.a.jwt'));
    assert.equal(bad.statusCode, 401);
    assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/);
    // Basic still works beside tokens, as on /v2.
    await expectEveryRoute(app, basicHeaders('admin', PASSWORDS.admin), 200);
  });

  test('only the metrics guarded (a bearer token, no users): the API is guarded as the metrics are', async () => {
    const app = await appWith('metrics-only', { extensions: { metrics: { auth: { bearerTokenFile: tokenFile } } } });
    const refused = await expectEveryRoute(app, {}, 401, 'UNAUTHORIZED');
    assert.equal(refused[0]?.headers['www-authenticate'], `Bearer realm="porthole"`);
    await expectEveryRoute(app, bearer(METRICS_TOKEN), 200);
    assert.equal((await get(app, '/v2/')).statusCode, 200, '/v2 stays open');
  });
});
