import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basicHeaders } from '../helpers/basic-auth.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { expectStatus, locationOf } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { assertJobs, assertReplicas, assertSummary } from './api-shapes.js';
import type { ReplicaRecord } from '../../src/management/api-types.js';

/**
 * The management API of a real `porthole serve` with auth on (htpasswd, an admin by
 * accessControl.adminPolicy) and a short heartbeat: its replica record names the address it
 * listens on, is rewritten every interval with the requests in flight, and goes at a clean
 * shutdown; a job run by the CLI beside it is listed.
 */

const PASSWORDS = { admin: 'admin-pass-0c3b', bob: 'bob-pass-a81f' } as const;

describe('management API of a running porthole with auth', { skip: skipUnlessTools('htpasswd'), timeout: 60_000 }, () => {
  let work = '';
  let configFile = '';
  let porthole: PortholeProcess;
  const admin = basicHeaders('admin', PASSWORDS.admin);

  const api = async (path: string): Promise<unknown> => {
    const answer = await raw(porthole.url, { path, headers: admin });
    assert.equal(answer.status, 200, `${path}: ${answer.body.toString()}`);
    return answer.json() as unknown;
  };

  before(async () => {
    work = await tempDir('management-process');
    const htpasswd = join(work, 'htpasswd');
    await addHtpasswdUsers(htpasswd, PASSWORDS, { create: true });
    const config = [
      `auth: { htpasswd: { path: ${JSON.stringify(htpasswd)} } }`,
      'accessControl:',
      "  repositories: { '**': { policies: [{ users: [bob], actions: [pull, push] }] } }",
      '  adminPolicy: { users: [admin], actions: [pull, push, delete] }',
      'storage: { heartbeatInterval: 1s }',
      'extensions: { metrics: { reportingInterval: 300ms } }',
      '',
    ].join('\n');
    porthole = await startPorthole({ config });
    // The same storage for the CLI run beside it.
    configFile = join(work, 'cli.yaml');
    await writeFile(configFile, `storage: { rootDirectory: ${JSON.stringify(porthole.root)} }\n`);
  });

  after(async () => {
    if (porthole?.process.exitCode === null) await porthole.stop();
    await cleanup(work, ...(porthole ? [porthole.root] : []));
  });

  test('anonymous: 401 with the Basic challenge; bob, no admin: 403', async () => {
    const anonymous = await raw(porthole.url, { path: '/api/v1/summary' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], (await raw(porthole.url, { path: '/v2/' })).headers['www-authenticate']);
    assert.equal((await raw(porthole.url, { path: '/api/v1/summary', headers: basicHeaders('bob', PASSWORDS.bob) })).status, 403);
  });

  test('summary and replicas: itself, at the address it listens on, its heartbeat rewritten every interval with the requests in flight', async () => {
    const summary = assertSummary(await api('/api/v1/summary'));
    const self = (): Promise<ReplicaRecord | undefined> => api('/api/v1/replicas').then((body) => assertReplicas(body).find((replica) => replica.id === summary.replicaId));
    const first = await self();
    assert.equal(first?.address, porthole.host);
    assert.equal(first?.healthy, true);
    await waitFor('a newer heartbeat', async () => (await self())?.lastHeartbeat !== first?.lastHeartbeat, 5_000);

    // An upload whose body never ends: a request in flight until the test ends it.
    const location = locationOf(expectStatus(await raw(porthole.url, { method: 'POST', path: '/v2/team/slow/blobs/uploads/', headers: admin }), 202, 'start an upload'));
    const stalled = holdOpen(porthole.url, location);
    try {
      await waitFor('a heartbeat counting the stalled upload in flight', async () => ((await self())?.inFlight ?? 0) >= 1, 5_000);
    } finally {
      stalled.destroy();
    }
    await waitFor('a heartbeat with nothing in flight', async () => (await self())?.inFlight === 0, 5_000);
  });

  test('a gc run by the CLI beside it is listed by the server', async () => {
    const run = await runCli(['gc', '--dry-run', '--config', configFile, '--log-level', 'warn']);
    assert.equal(run.code, 0, run.stderr);
    const line = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { seconds: number };
    const [newest] = assertJobs(await api('/api/v1/jobs?limit=5'));
    assert.equal(newest?.action, 'gc');
    assert.equal(newest?.trigger, 'cli');
    assert.equal(newest?.seconds, line.seconds);
  });

  test('a clean shutdown removes its heartbeat from the storage', async () => {
    const files = await readdir(join(porthole.root, 'replicas'));
    assert.equal(files.length, 1);
    assert.equal(await porthole.stop(), 0);
    assert.deepEqual(await readdir(join(porthole.root, 'replicas')), []);
  });
});

/** A PATCH of an upload that sends part of its declared body and waits: the server keeps it in flight. */
function holdOpen(url: string, location: string): ClientRequest {
  const base = new URL(url);
  const request = httpRequest({
    host: base.hostname,
    port: base.port,
    method: 'PATCH',
    path: location,
    headers: { ...basicHeaders('admin', PASSWORDS.admin), 'content-type': 'application/octet-stream', 'content-length': 1_000_000 },
  });
  request.on('error', () => undefined);
  request.write(Buffer.alloc(1024));
  return request;
}
