import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { FailedLogins } from '../../src/auth/failed-logins.js';
import { validateConfig } from '../../src/config/load.js';
import type { AuditEvent } from '../../src/observability/audit.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

/**
 * Limits on guessing passwords (auth.failedLogins): per client address, and per user from any
 * address. The password file is made by Apache's htpasswd; the requests go through Fastify's
 * inject, which lets each one come from the client address the test names.
 */

describe('failed logins', () => {
  test('windows: the limit locks the key until its window ends; another key is not affected', async () => {
    let now = 1_000_000;
    const limits = new FailedLogins({ limit: 3, userLimit: 5, windowMs: 60_000 }, () => now);
    const start = now;
    for (let i = 0; i < 3; i += 1) {
      now = start + i;
      await limits.failed('10.0.0.1', 'alice');
    }
    now = start + 10;
    assert.equal(await limits.retryAfter('10.0.0.1', 'bob'), 60, 'the address is locked, for any user');
    assert.equal(await limits.retryAfter('10.0.0.2', 'alice'), 0, 'alice from elsewhere is not (3 < userLimit 5)');
    now = start + 59_001;
    assert.equal(await limits.retryAfter('10.0.0.1', 'bob'), 1);
    now = start + 60_000;
    assert.equal(await limits.retryAfter('10.0.0.1', 'bob'), 0, 'the window has ended');
    for (let i = 0; i < 5; i += 1) {
      now = start + 60_000 + i;
      await limits.failed(`10.0.1.${i}`, 'carol');
    }
    now = start + 60_100;
    assert.equal(await limits.retryAfter('10.0.2.9', 'carol'), 60, 'carol, guessed from many addresses, is locked everywhere');
  });

  describe('through the API', { skip: skipUnlessTools('htpasswd'), timeout: 60_000 }, () => {
    let work = '';
    let app: PortholeApp | undefined;
    const audit: AuditEvent[] = [];
    const logged = memoryLogger('info');

    before(async () => {
      work = await tempDir('failed-logins');
      const htpasswd = join(work, 'htpasswd');
      await addHtpasswdUsers(htpasswd, { alice: 'right-password' }, { create: true });
      const config = validateConfig({ storage: { rootDirectory: join(work, 'root') }, auth: { htpasswd: { path: htpasswd }, failedLogins: { limit: 10, userLimit: 50, window: '1m' } }, extensions: { metrics: {} } });
      app = await buildApp(config, { logger: logged.logger, auditor: { record: (event) => audit.push(event) } });
    });

    after(async () => {
      await app?.server.close();
      await cleanup(work);
    });

    const ping = (headers: Record<string, string>, remoteAddress: string) => (app as PortholeApp).server.inject({ method: 'GET', url: '/v2/', headers, remoteAddress });

    test('50 bad logins from one address: 401 for the first 10, then 429 with Retry-After even for the right password; the same user from another address still logs in', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 50; i += 1) statuses.push((await ping(basicHeaders('alice', `guess-${i}`), '192.0.2.7')).statusCode);
      assert.deepEqual(statuses, [...Array<number>(10).fill(401), ...Array<number>(40).fill(429)]);
      const locked = await ping(basicHeaders('alice', 'right-password'), '192.0.2.7');
      assert.equal(locked.statusCode, 429, 'a right guess during the lock tells nothing');
      assert.equal(locked.json<{ errors: Array<{ code: string }> }>().errors[0]?.code, 'TOOMANYREQUESTS');
      const retryAfter = Number(locked.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal((await ping(basicHeaders('alice', 'right-password'), '198.51.100.3')).statusCode, 200, 'alice from another address');
      assert.equal((await ping({}, '192.0.2.7')).statusCode, 401, 'anonymous requests from the locked address are not 429: they present no login');
    });

    test('each failure is audited with its reason, never with the password; the attempts are counted', async () => {
      const failures = audit.filter((event) => event.action === 'auth.login');
      assert.equal(failures.filter((event) => event.detail === 'wrong user name or password').length, 10);
      assert.equal(failures.filter((event) => event.detail === 'too many failed logins').length, 41);
      assert.ok(failures.every((event) => event.outcome === 'failure' && event.subject === 'alice' && event.clientIP === '192.0.2.7'));
      const written = JSON.stringify(audit) + JSON.stringify(logged.lines);
      assert.ok(!written.includes('right-password') && !written.includes('guess-'), 'no password in the audit events or the log');
      const metrics = (await (app as PortholeApp).server.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^porthole_auth_attempts_total\{method="basic",outcome="failure"\} 10$/m);
      assert.match(metrics, /^porthole_auth_attempts_total\{method="basic",outcome="locked"\} 41$/m);
      assert.match(metrics, /^porthole_auth_attempts_total\{method="basic",outcome="success"\} 1$/m);
      assert.match(metrics, /^porthole_http_requests_by_user_total\{user="alice"\} 1$/m, 'the one request alice was let in for');
    });
  });
});
