import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertStatus } from '../helpers/assert-registry.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { accessLinesOf, repeated } from './json-lines.js';
import { runClients } from './load.js';
import { readLogFiles, startLogged, type LoggedPorthole } from './logged-porthole.js';

/**
 * Lines are written asynchronously, so a burst leaves many of them in memory: a graceful stop
 * right after it must still put every one in the file, whole and once.
 */
const REQUESTS = 3000;
const CLIENTS = 16;

let work: string;
let files: LoggedPorthole;
let exitCode: number | null;

before(async () => {
  work = await tempDir('log-burst');
  files = await startLogged({ dir: work });
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    // Each request numbered in its query, so that the log shows which one is missing or doubled.
    await runClients(CLIENTS, REQUESTS, async (n) => assertStatus(await raw(files.porthole.url, { path: `/v2/?n=${n}`, agent }), 200));
  } finally {
    agent.destroy();
  }
  // At once, with the last lines still on their way to the file.
  exitCode = await files.porthole.stop('SIGTERM');
});

after(() => cleanup(work));

describe('a burst of requests, then SIGTERM', () => {
  it('exits 0', () => {
    assert.equal(exitCode, 0);
  });

  it('leaves every request in the log file exactly once, in whole lines', async () => {
    const { log } = await readLogFiles(files);
    const served = accessLinesOf(log).filter((line) => line.path === '/v2/');
    assert.deepEqual(repeated(served.map((line) => line.query)), [], 'no request is logged twice');
    const numbers = new Set(served.map((line) => line.query));
    const missing = Array.from({ length: REQUESTS }, (_, n) => `n=${n}`).filter((query) => !numbers.has(query));
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} requests have no access line`);
    assert.equal(served.length, REQUESTS);
    assert.deepEqual(repeated(served.map((line) => line.reqId)), [], 'request ids are unique');
    assert.ok(served.every((line) => line.status === 200));
  });

  it('writes the shutdown lines last, in order', async () => {
    const { log, audit } = await readLogFiles(files);
    assert.deepEqual(
      log.slice(-2).map((line) => line.msg),
      ['shutting down: no new connections, finishing requests in flight', 'porthole stopped'],
    );
    assert.deepEqual(
      audit.map((line) => line.action),
      ['server.start', 'server.stop'],
    );
  });
});
