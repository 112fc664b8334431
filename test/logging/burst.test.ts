import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertStatus } from '../helpers/assert-registry.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { accessLinesOf, outOfOrder, repeated } from './json-lines.js';
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

  it('writes every line in the order it was logged', async () => {
    const { log, audit } = await readLogFiles(files);
    assert.deepEqual(outOfOrder(log).slice(0, 10), []);
    assert.deepEqual(outOfOrder(audit), []);
  });
});

/**
 * SIGTERM while the clients are still sending: lines of the last requests are still waiting in
 * memory (the log is written in batches) when porthole is told to stop. Every request that got
 * its answer must have its line, once.
 */
describe('SIGTERM in the middle of a burst', () => {
  const SIGTERM_AFTER = 1500;
  let dir: string;
  let loaded: LoggedPorthole;
  let code: number | null;
  const answered = new Set<number>();

  before(async () => {
    dir = await tempDir('log-burst-sigterm');
    loaded = await startLogged({ dir });
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    let next = 0;
    let stopping: Promise<number | null> | undefined;
    const client = async (): Promise<void> => {
      for (;;) {
        const n = next;
        next += 1;
        try {
          const response = await raw(loaded.porthole.url, { path: `/v2/?n=${n}`, agent });
          if (response.status === 200) answered.add(n);
        } catch {
          // Refused or reset: porthole has stopped taking requests.
          return;
        }
        if (answered.size === SIGTERM_AFTER && stopping === undefined) stopping = loaded.porthole.stop('SIGTERM');
        if (n > 100_000) return;
      }
    };
    try {
      await Promise.all(Array.from({ length: CLIENTS }, client));
    } finally {
      agent.destroy();
    }
    code = await (stopping ?? loaded.porthole.stop('SIGTERM'));
  });

  after(() => cleanup(dir));

  it('exits 0, having answered requests after the signal too', () => {
    assert.equal(code, 0);
    assert.ok(answered.size >= SIGTERM_AFTER, `${answered.size} requests answered`);
  });

  it('logs every answered request exactly once, and "porthole stopped" last', async () => {
    const { log, audit } = await readLogFiles(loaded);
    const served = accessLinesOf(log).filter((line) => line.path === '/v2/');
    assert.deepEqual(repeated(served.map((line) => line.query)), [], 'no request is logged twice');
    const logged = new Set(served.map((line) => line.query));
    const missing = [...answered].filter((n) => !logged.has(`n=${n}`));
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} answered requests have no access line`);
    assert.equal(log.at(-1)?.msg, 'porthole stopped');
    assert.deepEqual(outOfOrder(log).slice(0, 10), []);
    assert.deepEqual(
      audit.map((line) => line.action),
      ['server.start', 'server.stop'],
    );
  });
});
