import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startExporter, type ExporterConfigInput, type ExporterProcess } from '../helpers/exporter-process.js';
import { cleanup, startPorthole } from '../helpers/porthole-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { raw } from '../helpers/raw-http.js';

/**
 * porthole has no authentication yet, so what is tested is that porthole-exporter SENDS the
 * credentials it is configured with: it scrapes a stand-in for porthole that records the
 * Authorization header of each request and answers a snapshot taken from a real porthole.
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
let answer: 'snapshot' | 'unauthorized' = 'snapshot';
let recorded: Recorded[] = [];
let server: Server | undefined;
let serverPort: number;
const exporters: ExporterProcess[] = [];

before(async () => {
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
});

beforeEach(() => {
  answer = 'snapshot';
  recorded = [];
});

async function exporterWith(serverSettings: ExporterConfigInput['Server'], env?: NodeJS.ProcessEnv): Promise<ExporterProcess> {
  const exporter = await startExporter({ config: { Server: { host: '127.0.0.1', port: serverPort, path: '/snapshot', ...serverSettings } }, ...(env ? { env } : {}) });
  exporters.push(exporter);
  return exporter;
}

async function scrape(exporter: ExporterProcess): Promise<Exposition> {
  return new Exposition(await exporter.scrape());
}

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
});
