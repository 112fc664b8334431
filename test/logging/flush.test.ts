import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WRITE_DELAY_MS } from '../../src/observability/log-files.js';
import { assertStatus } from '../helpers/assert-registry.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { runCli } from '../helpers/run-cli.js';
import { accessLinesOf, parseJsonLines, readJsonLines, type LogLine } from './json-lines.js';
import { startLogged, type LoggedPorthole } from './logged-porthole.js';

/**
 * When the lines of porthole serve reach their destination: the log is written in batches
 * (docs/logging.md, When lines are written), yet a quiet porthole's line is there within
 * WRITE_DELAY_MS, and a start-up refused after it logged still writes its lines before exiting.
 */

/** Past the documented delay, for the thread pool's write, the poll and a loaded test machine. */
const SLACK_MS = 250;
const REQUESTS = 10;

let work: string;

before(async () => {
  work = await tempDir('log-flush');
});

after(() => cleanup(work));

/** Milliseconds until `condition` holds, polling every millisecond; fails after `timeoutMs`. */
async function msUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(1);
  }
  return performance.now() - start;
}

/**
 * One request at a time on an otherwise idle porthole: from each answer to its access line in
 * the log, as `accessLines` reads it. The median must be within the documented delay.
 */
async function delaysOfQuietRequests(porthole: PortholeProcess, accessLines: () => Promise<LogLine[]>): Promise<number[]> {
  const delays: number[] = [];
  for (let n = 0; n < REQUESTS; n += 1) {
    await sleep(50);
    assertStatus(await raw(porthole.url, { path: `/v2/?quiet=${n}` }), 200);
    const logged = async (): Promise<boolean> => (await accessLines()).some((line) => line.query === `quiet=${n}`);
    delays.push(await msUntil(`the access line of request ${n}`, logged, 10_000));
  }
  return delays;
}

function assertWithinDelay(t: TestContext, delays: number[]): void {
  const sorted = [...delays].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1] ?? Infinity;
  t.diagnostic(`from each answer to its access line: ${delays.map((d) => d.toFixed(1)).join(', ')} ms`);
  assert.ok(median <= WRITE_DELAY_MS + SLACK_MS, `median ${median.toFixed(1)} ms from the answer to its access line: ${delays.map((d) => d.toFixed(1)).join(', ')}`);
}

describe('a quiet porthole', () => {
  let files: LoggedPorthole;

  before(async () => {
    const dir = join(work, 'file');
    await mkdir(dir);
    files = await startLogged({ dir });
  });

  after(async () => {
    await files.porthole.stop();
  });

  it(`writes each access line to log.output within ${WRITE_DELAY_MS} ms, with no more lines to come`, async (t) => {
    const delays = await delaysOfQuietRequests(files.porthole, async () => accessLinesOf(await readJsonLines<LogLine>(files.log)));
    assertWithinDelay(t, delays);
  });

  it('on stdout as well', async (t) => {
    const porthole = await startPorthole({ root: join(work, 'stdout-root') });
    try {
      const delays = await delaysOfQuietRequests(porthole, () => {
        // A line may be arriving in pieces: only whole lines count.
        const text = porthole.stdout();
        return Promise.resolve(accessLinesOf(parseJsonLines<LogLine>(text.slice(0, text.lastIndexOf('\n') + 1), 'stdout')));
      });
      assertWithinDelay(t, delays);
    } finally {
      assert.equal(await porthole.stop(), 0);
    }
  });
});

describe('a start-up refused after lines were logged', () => {
  it('writes them to the log file before it exits 2', async () => {
    const dir = join(work, 'refused');
    await mkdir(dir);
    // A file where the storage root should be: refused once the log is open and has its warning.
    const root = join(dir, 'root');
    await writeFile(root, 'not a directory\n');
    const log = join(dir, 'porthole.log');
    const config = join(dir, 'porthole.json');
    await writeFile(config, JSON.stringify({ log: { output: log } }));
    const result = await runCli(['serve', '--port', '0', '--root', root, '--config', config], {
      env: { ...process.env, PORTHOLE_NO_SUCH_SETTING: 'x' },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /storage/);
    const lines = parseJsonLines<LogLine>(await readFile(log, 'utf8'), log);
    assert.deepEqual(
      lines.map((line) => [line.msg, line.variable]),
      [['environment variable names no configuration key: ignored', 'PORTHOLE_NO_SUCH_SETTING']],
    );
  });
});
