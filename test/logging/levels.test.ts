import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { LOG_LEVELS } from '../../src/config/schema.js';
import { assertError, assertStatus } from '../helpers/assert-registry.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { socketExchange } from '../helpers/raw-socket.js';
import { OCI_MANIFEST } from '../helpers/registry-client.js';
import type { AuditLine, LogLine } from './json-lines.js';
import { readLogFiles, startLogged } from './logged-porthole.js';

/**
 * log.level, for each of the seven levels, against a real porthole: one run of the same
 * scenario per level, which makes porthole write lines at debug, info, warn and error, and the
 * file must hold exactly the levels at or above the configured one. Nothing porthole does on
 * request writes trace, fatal or panic; the unit test (test/unit/logging-levels) covers those.
 */

type Level = (typeof LOG_LEVELS)[number];

/** LOG_LEVELS runs from the most severe (panic) down to trace. */
function shownAt(configured: Level): (level: string) => boolean {
  const limit = LOG_LEVELS.indexOf(configured);
  return (level) => {
    const index = LOG_LEVELS.indexOf(level as Level);
    return index !== -1 && index <= limit;
  };
}

const SCENARIO_MESSAGES: Record<string, string> = {
  debug: 'request served',
  warn: 'shutdown timeout reached: closing remaining connections',
  error: 'request failed with an unexpected error',
};
const SCENARIO_LEVELS = ['error', 'warn', 'info', 'debug'];

interface Run {
  log: LogLine[];
  audit: AuditLine[];
  exitCode: number | null;
}

/**
 * debug: a health probe. info: an API request (and start-up). error: a storage failure, made by
 * putting a file where porthole keeps its upload sessions, which the client sees as 500 UNKNOWN.
 * warn: a request still receiving its body when the shutdown timeout runs out.
 */
async function runScenario(dir: string, level: Level): Promise<Run> {
  const files = await startLogged({ dir, config: { log: { level }, http: { shutdownTimeout: '300ms' } } });
  const { porthole } = files;
  assertStatus(await raw(porthole.url, { path: '/livez' }), 200);
  assertStatus(await raw(porthole.url, { path: '/v2/' }), 200);
  await writeFile(join(porthole.root, 'uploads'), 'not a directory');
  assertError(await raw(porthole.url, { method: 'POST', path: '/v2/levels/blobs/uploads/' }), 500, 'UNKNOWN');

  const stalled = socketExchange(porthole.url, {
    method: 'PUT',
    path: '/v2/levels/manifests/stalled',
    headers: { 'content-type': OCI_MANIFEST, 'content-length': 1000 },
    body: '{"schemaVersion":2,',
    timeoutMs: 20_000,
  });
  // Time for porthole to accept the connection and start reading the body.
  await sleep(300);
  const exitCode = await porthole.stop();
  assert.deepEqual(await stalled, [], 'the stalled request was cut off without an answer');
  return { ...(await readLogFiles(files)), exitCode };
}

let work: string;
const runs = new Map<Level, Promise<Run>>();

before(async () => {
  work = await tempDir('log-levels');
  // All seven at once: each spends most of its time waiting for its shutdown timeout.
  for (const level of LOG_LEVELS) {
    const dir = join(work, level);
    runs.set(
      level,
      mkdir(dir).then(() => runScenario(dir, level)),
    );
  }
  // Settled here so that a failed run is reported by its own test, not as an unhandled rejection.
  await Promise.allSettled(runs.values());
});

after(() => cleanup(work));

describe('log.level', () => {
  for (const level of LOG_LEVELS) {
    it(`${level} writes exactly the lines at ${level} and above`, async () => {
      const run = await (runs.get(level) as Promise<Run>);
      assert.equal(run.exitCode, 0);
      const shown = shownAt(level);
      const expected = SCENARIO_LEVELS.filter(shown);
      assert.deepEqual([...new Set(run.log.map((line) => line.level))].sort(), [...expected].sort(), `levels written at ${level}`);
      for (const line of run.log) assert.ok(shown(line.level), `a ${line.level} line at ${level}: ${line.msg}`);
      for (const scenarioLevel of expected) {
        const message = SCENARIO_MESSAGES[scenarioLevel];
        if (message === undefined) continue;
        assert.ok(
          run.log.some((line) => line.level === scenarioLevel && line.msg === message),
          `the ${scenarioLevel} line "${message}" is there at ${level}`,
        );
      }
      if (shown('debug')) {
        assert.ok(
          run.log.some((line) => line.level === 'debug' && line.path === '/livez'),
          'the health probe is logged at debug',
        );
      }
      if (shown('info')) {
        assert.ok(run.log.some((line) => line.level === 'info' && line.path === '/v2/'), 'the API request is logged at info');
        assert.ok(!run.log.some((line) => line.level === 'info' && line.path === '/livez'), 'the health probe is not logged at info');
        const stalled = run.log.find((line) => line.path === '/v2/levels/manifests/stalled');
        assert.deepEqual([stalled?.status, stalled?.error, stalled?.aborted], [400, 'SIZE_INVALID', true], 'the request cut off by the shutdown is logged');
        // Written last, after everything buffered: nothing overtakes it at exit.
        assert.equal(run.log.at(-1)?.msg, 'porthole stopped');
      }
    });
  }

  it('leaves the audit log alone: every level records the same events', async () => {
    for (const level of LOG_LEVELS) {
      const run = await (runs.get(level) as Promise<Run>);
      assert.deepEqual(
        run.audit.map((line) => [line.action, line.outcome, line.status, line.error]),
        [
          ['server.start', 'success', undefined, undefined],
          ['blob.upload.start', 'failure', 500, 'UNKNOWN'],
          // The request cut off by the shutdown is audited too, before the stop.
          ['manifest.put', 'failure', 400, 'SIZE_INVALID'],
          ['server.stop', 'success', undefined, undefined],
        ],
        `audit log at ${level}`,
      );
    }
  });
});
