import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LogFile, WRITE_DELAY_MS } from '../../src/observability/log-files.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { exitWithin, STILL_RUNNING } from '../helpers/service-process.js';

/**
 * LogFile on its own: the buffered destination of the log (lines batched, written within
 * WRITE_DELAY_MS), the unbuffered one of the audit log, flush(), reopen, and what reaches the
 * file when the process ends, cleanly, by an exception or by SIGKILL.
 */

/** sonic-boom's state as LogFile reads it (log-files.ts, WriterState). */
interface WriterState {
  _len: number;
  _writing: boolean;
}

/**
 * How long past its documented delay a line may take on a loaded test machine: the write itself
 * goes through the thread pool, and the poll that sees it is a timer too.
 */
const SLACK_MS = 250;

let work: string;
let fileCount = 0;

before(async () => {
  work = await tempDir('log-file');
});

after(() => cleanup(work));

function freshPath(): string {
  fileCount += 1;
  return join(work, `log-${fileCount}.log`);
}

function lineOf(n: number, padding = 0): string {
  return `${JSON.stringify({ n, padding: 'x'.repeat(padding) })}\n`;
}

/** The `n` of each line of `path`, in file order; a torn line fails JSON.parse. */
function numbersIn(path: string): number[] {
  const text = readFileSync(path, 'utf8');
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), `${path} ends with a whole line`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => (JSON.parse(line) as { n: number }).n);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Milliseconds until `condition` holds, polling every millisecond; fails after `timeoutMs`. */
async function msUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(1);
  }
  return performance.now() - start;
}

function writesOf(file: LogFile): number[] {
  const sizes: number[] = [];
  file.stream.on('write', (bytes: number) => sizes.push(bytes));
  return sizes;
}

describe('a buffered LogFile (the log)', () => {
  it('holds lines in memory, and sonic-boom reports them as LogFile expects', async () => {
    const file = await LogFile.open(freshPath());
    const state = file.stream as unknown as WriterState;
    const line = lineOf(1, 80);
    file.stream.write(line);
    assert.equal(file.waiting, Buffer.byteLength(line), 'the line waits');
    assert.equal(state._writing, false, 'no write under way yet');
    // flush() hands it to sonic-boom, whose _len counts it until it is written.
    const flushed = file.flush();
    assert.ok(state._len === Buffer.byteLength(line) || state._writing, 'sonic-boom has the line');
    await flushed;
    assert.equal(state._len, 0);
    assert.equal(file.waiting, 0);
    assert.deepEqual(numbersIn(file.path ?? ''), [1]);
  });

  it(`writes the line of a quiet process within ${WRITE_DELAY_MS} ms, without flush()`, async () => {
    const file = await LogFile.open(freshPath());
    const path = file.path ?? '';
    const delays: number[] = [];
    for (let n = 0; n < 10; n += 1) {
      file.stream.write(lineOf(n));
      delays.push(await msUntil(`line ${n} in the file`, () => numbersIn(path).length === n + 1, WRITE_DELAY_MS + 5_000));
      await sleep(20);
    }
    delays.sort((a, b) => a - b);
    const median = delays[delays.length >> 1] ?? Infinity;
    assert.ok(median <= WRITE_DELAY_MS + SLACK_MS, `median ${median.toFixed(1)} ms from write() to the file (${delays.map((d) => d.toFixed(1)).join(', ')})`);
    assert.deepEqual(numbersIn(path), range(0, 10));
  });

  it('writes the lines handed over in one turn of the event loop with one write(2)', async () => {
    const file = await LogFile.open(freshPath());
    const writes = writesOf(file);
    let bytes = 0;
    for (let n = 0; n < 20; n += 1) {
      const line = lineOf(n, 100);
      bytes += Buffer.byteLength(line);
      file.stream.write(line);
    }
    await file.flush();
    assert.deepEqual(writes, [bytes], 'one write of every line');
    assert.deepEqual(numbersIn(file.path ?? ''), range(0, 20));
  });

  it('writes at once, in writes of at most 64 KiB, when the next line might not fit in 64 KiB', async () => {
    const file = await LogFile.open(freshPath());
    const state = file.stream as unknown as WriterState;
    const writes = writesOf(file);
    let n = 0;
    let bytes = 0;
    let last = 0;
    while (!state._writing) {
      const line = lineOf(n, 200);
      last = Buffer.byteLength(line);
      bytes += last;
      file.stream.write(line);
      n += 1;
    }
    // A line may take three bytes per UTF-16 unit: the last one might not have fitted in what was left.
    const before = bytes - last;
    assert.ok(before <= 64 * 1024 && before + 3 * last > 64 * 1024, `the write started with ${before} bytes waiting and a line of ${last} coming`);
    await file.flush();
    assert.equal(writes[0], before, 'the first write carried every line before the last');
    assert.ok(writes.every((size) => size <= 64 * 1024), `writes of at most 64 KiB: ${writes.join(', ')}`);
    assert.deepEqual(numbersIn(file.path ?? ''), range(0, n));
  });

  it('writes a line longer than a batch alone, after the lines before it', async () => {
    const file = await LogFile.open(freshPath());
    const writes = writesOf(file);
    const lines = [lineOf(0), lineOf(1, 100 * 1024), lineOf(2)];
    for (const line of lines) file.stream.write(line);
    await file.flush();
    assert.deepEqual(writes, lines.map((line) => Buffer.byteLength(line)));
    assert.deepEqual(numbersIn(file.path ?? ''), [0, 1, 2]);
  });

  it('flush() resolves only once every line handed over is written, a write under way or not', async () => {
    const file = await LogFile.open(freshPath());
    const path = file.path ?? '';
    // A large line starts a write at once; small ones wait behind it, less than 16 KiB of them:
    // sonic-boom ends that write with a 'drain' while they still wait.
    file.stream.write(lineOf(0, 4 * 1024 * 1024));
    for (let n = 1; n <= 5; n += 1) file.stream.write(lineOf(n));
    await file.flush();
    assert.deepEqual(numbersIn(path), range(0, 6), 'every line, in order, when flush() resolves');
    // Nothing waiting: at once.
    await file.flush();
  });

  it('flush() does not wait for lines handed over after it was called, however many keep coming', async () => {
    const file = await LogFile.open(freshPath());
    const path = file.path ?? '';
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        file.stream.write(lineOf(n, 100));
        n += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await sleep(50);
    const handedOver = n;
    const flushed = await Promise.race([file.flush().then(() => true), sleep(10_000).then(() => false)]);
    const seen = numbersIn(path).length;
    writing = false;
    await writer;
    assert.ok(flushed, 'flush() resolved while lines kept coming');
    assert.ok(seen >= handedOver, `${seen} lines in the file once flush() resolved, ${handedOver} handed over before it was called`);
    await file.flush();
    assert.deepEqual(numbersIn(path), range(0, n));
  });

  it("keeps the lines in order when flushSync (pino's, after a fatal line) comes while a write is under way", async () => {
    const file = await LogFile.open(freshPath());
    const state = file.stream as unknown as WriterState;
    // Every thread of the pool busy for a while: the asynchronous write waits in its queue, and
    // a synchronous one would surely go first.
    const busy = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, () => promisify(pbkdf2)('x', 'salt', 100_000, 32, 'sha256'));
    file.stream.write(lineOf(0, 32 * 1024));
    assert.equal(state._writing, true, 'the large line is being written');
    file.stream.write(lineOf(1));
    file.stream.flushSync();
    await Promise.all(busy);
    await file.flush();
    assert.deepEqual(numbersIn(file.path ?? ''), [0, 1]);
  });

  it('reopen (SIGHUP) sends the lines still waiting to the new file: none lost, none twice, in order', async () => {
    const file = await LogFile.open(freshPath());
    const path = file.path ?? '';
    for (let n = 0; n < 3; n += 1) file.stream.write(lineOf(n));
    await file.flush();
    // Waiting in the buffer, one of them in a write under way, as logrotate moves the file.
    file.stream.write(lineOf(3, 2 * 1024 * 1024));
    for (let n = 4; n < 8; n += 1) file.stream.write(lineOf(n));
    await rename(path, `${path}.1`);
    file.reopen();
    for (let n = 8; n < 12; n += 1) file.stream.write(lineOf(n));
    await file.flush();
    const old = numbersIn(`${path}.1`);
    const fresh = numbersIn(path);
    assert.deepEqual([...old, ...fresh], range(0, 12), `old ${old.join(',')} / new ${fresh.join(',')}`);
    assert.ok(fresh.includes(8), 'lines after the reopen go to the new file');
  });
});

describe('an unbuffered LogFile (the audit log)', () => {
  it('has each line in the file when write() returns', async () => {
    const file = await LogFile.open(freshPath(), { buffered: false });
    const path = file.path ?? '';
    for (let n = 0; n < 5; n += 1) {
      file.stream.write(lineOf(n, n === 2 ? 1024 * 1024 : 10));
      assert.deepEqual(numbersIn(path), range(0, n + 1), `line ${n} is in the file already`);
    }
    await file.flush();
  });

  it('reopen (SIGHUP): every line before it in the old file, every line after it in the new one', async () => {
    const file = await LogFile.open(freshPath(), { buffered: false });
    const path = file.path ?? '';
    for (let n = 0; n < 3; n += 1) file.stream.write(lineOf(n));
    await rename(path, `${path}.1`);
    file.reopen();
    for (let n = 3; n < 6; n += 1) file.stream.write(lineOf(n));
    await file.flush();
    assert.deepEqual(numbersIn(`${path}.1`), range(0, 3));
    assert.deepEqual(numbersIn(path), range(3, 6));
  });
});

/** LogFile and the logger as porthole builds them, in a process of their own. */
const LOG_FILES = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/observability/log-files.js');
const LOGGER = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/observability/logger.js');

/** Runs `body` (module code, with `log` a logger to `path` and `audit` an unbuffered LogFile) in a node process. */
function runScript(path: string, auditPath: string, body: string): { exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>; kill(): void; stdout(): string } {
  const script = `
    import { LogFile } from ${JSON.stringify(LOG_FILES)};
    import { createLogger } from ${JSON.stringify(LOGGER)};
    const file = await LogFile.open(${JSON.stringify(path)});
    const audit = await LogFile.open(${JSON.stringify(auditPath)}, { buffered: false });
    const log = createLogger({ level: 'info' }, file.stream);
    ${body}
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal, stdout, stderr }));
  });
  return { exited, kill: () => child.kill('SIGKILL'), stdout: () => stdout };
}

function logNumbers(path: string): number[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { n: number }).n);
}

describe('a write that fails (the audit log on a full disk)', () => {
  it('is not thrown at the caller but raised as an uncaught exception, as an asynchronous failure is', async () => {
    const run = runScript(freshPath(), '/dev/full', `audit.stream.write('{"n":0}\\n'); process.stdout.write('returned\\n'); setTimeout(() => {}, 10_000);`);
    const { code, stdout, stderr } = await run.exited;
    assert.equal(stdout, 'returned\n', 'write() returned');
    assert.equal(code, 1);
    assert.match(stderr, /ENOSPC/);
  });
});

/**
 * Runs `body` with `log` a logger to a LogFile on the process's stdout, which is a socket whose
 * far end `serve` holds (never read: paused from the start); `go` writes a line to its stdin.
 */
async function runOnSocket(body: string, serve: (far: Socket) => void): Promise<{ exited: Promise<number | null | string>; stderr(): string; go(): void; kill(): void }> {
  const script = `
    import { LogFile } from ${JSON.stringify(LOG_FILES)};
    import { createLogger } from ${JSON.stringify(LOGGER)};
    const file = await LogFile.open('stdout');
    const log = createLogger({ level: 'info' }, file.stream);
    ${body}
  `;
  const path = join(work, `socket-${(fileCount += 1)}`);
  const server = createServer({ pauseOnConnect: true }, serve);
  await new Promise<void>((listening) => server.listen(path, listening));
  const near = connect(path);
  await once(near, 'connect');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', near, 'pipe'] });
  near.destroy();
  server.close();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    exited: exitWithin(exited, 15_000),
    stderr: () => stderr,
    go: () => child.stdin.write('go\n'),
    kill: () => child.kill('SIGKILL'),
  };
}

describe('a log on a socket whose reader is gone (a log collector that died)', () => {
  it('goes quiet: the process goes on, and exits when it means to, with lines still waiting', async () => {
    let far: Socket | undefined;
    const run = await runOnSocket(
      `
      log.info('read by nobody');
      await file.flush();
      process.stderr.write('logged\\n');
      process.stdin.once('data', async () => {
        // The reader is gone: the next write fails (EPIPE, or ECONNRESET with a line unread).
        for (let n = 0; n < 2000; n += 1) log.info({ n, padding: 'x'.repeat(100) }, 'after');
        await new Promise((resolve) => setTimeout(resolve, 200));
        await file.flush();
        process.stderr.write('still going\\n');
        for (let n = 0; n < 100; n += 1) log.info({ n }, 'waiting at exit');
        process.exit(0);
      });
      `,
      (socket) => (far = socket),
    );
    try {
      await msUntil('the line to be logged', () => run.stderr().includes('logged') && far !== undefined, 20_000);
      far?.destroy();
      run.go();
      assert.equal(await run.exited, 0, run.stderr());
      assert.match(run.stderr(), /still going/);
    } finally {
      run.kill();
    }
  });
});

describe('a log that cannot be written (a full disk)', () => {
  it('fails the process (an uncaught exception), which then exits, with lines still waiting', async () => {
    const run = runScript('/dev/full', freshPath(), `for (let n = 0; n < 100; n += 1) log.info({ n }, 'line'); setTimeout(() => {}, 60_000);`);
    const result = await exitWithin(run.exited, 15_000);
    run.kill();
    assert.ok(result !== STILL_RUNNING, 'exited within 15 s');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ENOSPC/);
  });
});

describe('what reaches the files as the process ends', () => {
  /** Fewer than 64 KiB of lines: all of them wait in memory, none is being written yet. */
  const LINES = 50;
  const logLines = `for (let n = 0; n < ${LINES}; n += 1) { log.info({ n, padding: 'x'.repeat(100) }, 'line'); audit.stream.write(JSON.stringify({ n }) + '\\n'); }`;

  it('process.exit right after logging: every line, in order (the exit hook)', async () => {
    const [path, auditPath] = [freshPath(), freshPath()];
    const run = runScript(path, auditPath, `${logLines}\nprocess.exit(3);`);
    const { code } = await run.exited;
    assert.equal(code, 3);
    assert.deepEqual(logNumbers(path), range(0, LINES));
    assert.deepEqual(logNumbers(auditPath), range(0, LINES));
  });

  it('an exception nobody handles: every line, in order', async () => {
    const [path, auditPath] = [freshPath(), freshPath()];
    const run = runScript(path, auditPath, `${logLines}\nprocess.nextTick(() => { log.info({ n: ${LINES} }, 'last'); throw new Error('a bug'); });`);
    const { code, stderr } = await run.exited;
    assert.equal(code, 1);
    assert.match(stderr, /a bug/);
    assert.deepEqual(logNumbers(path), range(0, LINES + 1));
    assert.deepEqual(logNumbers(auditPath), range(0, LINES));
  });

  it(`SIGKILL: the audit log loses nothing, the log nothing logged more than ${WRITE_DELAY_MS} ms before`, async () => {
    const [path, auditPath] = [freshPath(), freshPath()];
    // Many lines, this time: most of the log's are being written as the audit lines are.
    const many = logLines.replace(`n < ${LINES}`, 'n < 5000');
    const run = runScript(path, auditPath, `${many}\nprocess.stdout.write('logged\\n');\nsetInterval(() => {}, 1000);`);
    let audited: number[];
    try {
      await msUntil('the lines to be logged', () => run.stdout().includes('logged'), 20_000);
      // The audit lines are in the file already, before any delay.
      audited = logNumbers(auditPath);
      await sleep(WRITE_DELAY_MS + SLACK_MS);
    } finally {
      run.kill();
    }
    assert.deepEqual(audited, range(0, 5000), 'the audit lines, as soon as they were handed over');
    const { signal } = await run.exited;
    assert.equal(signal, 'SIGKILL');
    assert.deepEqual(logNumbers(path), range(0, 5000));
    assert.deepEqual(logNumbers(auditPath), range(0, 5000));
  });
});
