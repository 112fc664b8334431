import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp, type PortholeApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { httpsGet } from '../tls/https-client.js';
import { OpensslCa, type KeyPair } from '../tls/openssl-ca.js';
import { assertSummary } from './api-shapes.js';

/**
 * Client certificates (mutual TLS, no htpasswd) name users of the management API as they do on
 * /v2: a certificate of an admin reads it, another user's is 403, none at all is 401 as GET /v2/
 * answers it. Certificates made with Debian's openssl.
 */
describe('management API under mutual TLS', { skip: skipUnlessTools('openssl'), timeout: 60_000 }, () => {
  let work = '';
  let app: PortholeApp;
  let port = 0;
  let ca: OpensslCa;
  let admin: KeyPair;
  let alice: KeyPair;

  before(async () => {
    work = await tempDir('management-mtls');
    ca = await OpensslCa.create(join(work, 'ca'), 'management-test-ca');
    const server = await ca.issue('server', { cn: '127.0.0.1', usage: 'server', san: ['IP:127.0.0.1'] });
    [admin, alice] = await Promise.all([ca.issue('ops', { cn: 'ops', usage: 'client' }), ca.issue('alice', { cn: 'alice', usage: 'client' })]);
    const config = validateConfig({
      storage: { rootDirectory: join(work, 'root') },
      http: { tls: { certificate: server.certificate, key: server.key, clientCA: ca.certificate } },
      accessControl: {
        repositories: { '**': { policies: [{ users: ['alice'], actions: ['pull'] }] } },
        adminPolicy: { users: ['ops'], actions: ['pull', 'push', 'delete'] },
      },
    });
    app = await buildApp(config, { logger: memoryLogger('warn').logger });
    const address = await app.server.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(address).port);
  });

  after(async () => {
    await app?.server.close();
    await cleanup(work);
  });

  test('an admin\'s certificate reads; another user\'s is 403 DENIED; none is 401 as on /v2/', async () => {
    const read = await httpsGet(port, '/api/v1/summary', { ca: ca.certificate, client: admin });
    assert.equal(read.status, 200, read.body);
    assertSummary(read.json());
    const denied = await httpsGet(port, '/api/v1/summary', { ca: ca.certificate, client: alice });
    assert.equal(denied.status, 403);
    assert.equal((denied.json() as { errors: Array<{ code: string }> }).errors[0]?.code, 'DENIED');
    assert.equal((await httpsGet(port, '/v2/', { ca: ca.certificate, client: alice })).status, 200, 'alice is a user of /v2');
    const anonymous = await httpsGet(port, '/api/v1/jobs', { ca: ca.certificate });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.status, (await httpsGet(port, '/v2/', { ca: ca.certificate })).status);
  });
});
