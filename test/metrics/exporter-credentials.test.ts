import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startExporter, type ExporterConfigInput, type ExporterProcess } from '../helpers/exporter-process.js';
import { join } from 'node:path';
import { cleanup, startPorthole, tempDir } from '../helpers/porthole-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { raw } from '../helpers/raw-http.js';
import { logLinesWith } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Exactly what porthole-exporter SENDS with each fetch, however its credentials are given (the
 * file, a password or token file, flags, their environment variables): it scrapes a stand-in for
 * porthole that records the Authorization header of each request and answers a snapshot taken
 * from a real porthole. That a real porthole lets those credentials in, or not, is tested in
 * metrics-auth.test.ts.
 */

const PASSWORD_VARIABLE = 'PORTHOLE_TEST_EXPORTER_PASSWORD';
// Base64 of "scraper:s3cret" and "scraper:from-env", written out so that the encoding is checked too.
const BASIC_S3CRET = 'Basic c2NyYXBlcjpzM2NyZXQ=';
const BASIC_FROM_ENV = 'Basic c2NyYXBlcjpmcm9tLWVudg==';

interface Recorded {
  path: string;
  authorization: string | undefined;
}

let snapshot: string;
let answer: 'snapshot' | 'unauthorized' | 'forbidden' = 'snapshot';
let secrets: string;
let recorded: Recorded[] = [];
let server: Server | undefined;
let serverPort: number;
const exporters: ExporterProcess[] = [];

before(async () => {
  secrets = await tempDir('exporter-secrets');
  // A real minimal-mode snapshot, taken once from a porthole that is then stopped.
  const porthole = await startPorthole();
  try {
    const response = await raw(porthole.url, { path: '/metrics' });
    assert.equal(response.status, 200);
    snapshot = response.body.toString('utf8');
  } finally {
    await porthole.stop();
    await cleanup(porthole.root);
  }
  server = createServer((request, response) => {
    recorded.push({ path: request.url ?? '', authorization: request.headers.authorization });
    if (answer === 'forbidden') {
      response.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('scraper may not read the metrics (extensions.metrics.auth.users)\n');
      return;
    }
    if (answer === 'unauthorized') {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="porthole"', 'content-type': 'application/json' });
      response.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    response.end(snapshot);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  serverPort = (server.address() as AddressInfo).port;
});

after(async () => {
  await Promise.all(exporters.map((exporter) => exporter.dispose()));
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await cleanup(secrets);
});

beforeEach(() => {
  answer = 'snapshot';
  recorded = [];
});

async function exporterWith(serverSettings: ExporterConfigInput['Server'], env?: NodeJS.ProcessEnv, args?: string[]): Promise<ExporterProcess> {
  const config = { Server: { host: '127.0.0.1', port: serverPort, path: '/snapshot', ...serverSettings } };
  const exporter = await startExporter({ config, ...(env ? { env } : {}), ...(args ? { args } : {}) });
  exporters.push(exporter);
  return exporter;
}

async function scrape(exporter: ExporterProcess): Promise<Exposition> {
  return new Exposition(await exporter.scrape());
}

async function secretFile(name: string, content: string): Promise<string> {
  const path = join(secrets, name);
  await writeFile(path, content);
  return path;
}

const WARNING = 'porthole cannot be read; answering porthole_up 0';

describe('porthole-exporter credentials', { timeout: 60_000 }, () => {
  test('sends Basic username:password and replays the snapshot it gets', async () => {
    const exporter = await exporterWith({ username: 'scraper', password: 's3cret' });
    const exposition = await scrape(exporter);
    assert.deepEqual(recorded, [{ path: '/snapshot', authorization: BASIC_S3CRET }]);
    assert.equal(exposition.value('porthole_up'), 1);
    assert.equal(exposition.value('porthole_info', { mode: 'minimal' }), 1);
  });

  test('takes the password from the environment variable named by passwordFromEnv', async () => {
    const exporter = await exporterWith({ username: 'scraper', passwordFromEnv: PASSWORD_VARIABLE }, { [PASSWORD_VARIABLE]: 'from-env' });
    const exposition = await scrape(exporter);
    assert.deepEqual(recorded, [{ path: '/snapshot', authorization: BASIC_FROM_ENV }]);
    assert.equal(exposition.value('porthole_up'), 1);
  });

  test('sends no Authorization header when no username is configured', async () => {
    const exporter = await exporterWith({});
    assert.equal((await scrape(exporter)).value('porthole_up'), 1);
    assert.deepEqual(recorded, [{ path: '/snapshot', authorization: undefined }]);
  });

  test('a 401 gives porthole_up 0 and a scrape error of reason "unauthorized"', async () => {
    const exporter = await exporterWith({ username: 'scraper', password: 's3cret' });
    answer = 'unauthorized';
    const refused = await scrape(exporter);
    assert.deepEqual(recorded, [{ path: '/snapshot', authorization: BASIC_S3CRET }]);
    assert.equal(refused.value('porthole_up'), 0);
    assert.deepEqual(refused.byLabel('porthole_exporter_scrape_errors_total', 'reason'), { unauthorized: 1 });
    assert.deepEqual(refused.find('porthole_info'), [], 'nothing of porthole is answered');

    // Accepted again: up again, and the error count stays as it was.
    answer = 'snapshot';
    const accepted = await scrape(exporter);
    assert.equal(accepted.value('porthole_up'), 1);
    assert.deepEqual(accepted.byLabel('porthole_exporter_scrape_errors_total', 'reason'), { unauthorized: 1 });
  });

  test('reads the password from Server.passwordFile (trimmed) on every fetch, so that a new password is used at once', async () => {
    const file = await secretFile('password', 's3cret\n');
    const exporter = await exporterWith({ username: 'scraper', passwordFile: file });
    assert.equal((await scrape(exporter)).value('porthole_up'), 1);
    await writeFile(file, 'from-env');
    assert.equal((await scrape(exporter)).value('porthole_up'), 1);
    assert.deepEqual(recorded.map((entry) => entry.authorization), [BASIC_S3CRET, BASIC_FROM_ENV]);
  });

  test('sends the token of Server.bearerTokenFile as Authorization: Bearer', async () => {
    const exporter = await exporterWith({ bearerTokenFile: await secretFile('token', 'tok-123\n') });
    assert.equal((await scrape(exporter)).value('porthole_up'), 1);
    assert.deepEqual(recorded, [{ path: '/snapshot', authorization: 'Bearer tok-123' }]);
  });

  test('--porthole-bearer-token-file replaces the Basic credentials of the file', async () => {
    const token = await secretFile('flag-token', 'flag-tok');
    const exporter = await exporterWith({ username: 'scraper', password: 'not-sent' }, undefined, ['--porthole-bearer-token-file', token]);
    assert.equal((await scrape(exporter)).value('porthole_up'), 1);
    assert.deepEqual(recorded, [{ path: '/snapshot', authorization: 'Bearer flag-tok' }]);
  });

  test('PORTHOLE_EXPORTER_USERNAME and PORTHOLE_EXPORTER_PASSWORD_FILE, and the flags over them', async () => {
    const env = { PORTHOLE_EXPORTER_USERNAME: 'scraper', PORTHOLE_EXPORTER_PASSWORD_FILE: await secretFile('env-password', 's3cret') };
    const fromEnv = await exporterWith({}, env);
    assert.equal((await scrape(fromEnv)).value('porthole_up'), 1);
    const flagOverEnv = await exporterWith({}, env, ['--porthole-password-file', await secretFile('flag-password', 'from-env')]);
    assert.equal((await scrape(flagOverEnv)).value('porthole_up'), 1);
    assert.deepEqual(recorded.map((entry) => entry.authorization), [BASIC_S3CRET, BASIC_FROM_ENV]);
  });

  test('a 403 is logged once with porthole\'s reason and what to change; no secret in the output', async () => {
    const exporter = await exporterWith({ username: 'scraper', password: 's3cret' });
    answer = 'forbidden';
    for (let scrapes = 0; scrapes < 3; scrapes += 1) assert.equal((await scrape(exporter)).value('porthole_up'), 0);
    await waitFor('the warning', () => logLinesWith(exporter.stdout(), WARNING).length > 0, 5_000);
    const warnings = logLinesWith(exporter.stdout(), WARNING);
    assert.equal(warnings.length, 1, 'once, not on every scrape');
    const message = String((warnings[0]?.err as { message?: unknown } | undefined)?.message);
    assert.match(message, /does not let the exporter's user read the metrics \(403: scraper may not read the metrics/);
    assert.match(message, /extensions\.metrics\.auth\.users/);
    for (const secret of ['s3cret', BASIC_S3CRET, BASIC_S3CRET.slice('Basic '.length)]) assert.ok(!exporter.output().includes(secret), `the output holds ${secret}`);
  });
});
