import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FLUSH_STALL_MS } from '../../src/observability/log-files.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { exitWithin, logLinesWith } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';
import { runClients } from './load.js';

/**
 * `log.output: stdout` on a pipe whose reader stops reading (a log collector that hangs): the
 * pipe fills, and porthole must still serve and still stop on SIGTERM. Its log writes ran on a
 * thread-pool thread that stayed in write(2) on the full pipe, and process.exit waits for that
 * thread: SIGTERM never ended porthole. A reader that is only slow loses nothing.
 */

/** Enough access lines to fill the pipe (64 KiB in the kernel, 16 KiB Node reads ahead) several times. */
const REQUESTS = 3_000;

let work: string;

before(async () => {
  work = await tempDir('stdout-unread');
});

after(() => cleanup(work));

/** The reading end of porthole's stdout: the test stops and resumes reading it. */
interface StdoutReader {
  /** The descriptor porthole gets as its stdout; Node's own pipe (a socket pair) when undefined. */
  fd?: number;
  attach(porthole: PortholeProcess): void;
  /** Stops reading: the pipe fills once the reader's read-ahead (16 KiB) is full. */
  pause(): void;
  resume(): void;
  text(): string;
  close(): void;
}

/** Node's pipe to a child, a socket pair (as Node.js and many supervisors hand one). */
function socketPair(): StdoutReader {
  let porthole: PortholeProcess | undefined;
  return {
    attach: (started) => (porthole = started),
    pause: () => porthole?.process.stdout?.pause(),
    resume: () => porthole?.process.stdout?.resume(),
    text: () => porthole?.stdout() ?? '',
    close: () => undefined,
  };
}

/** A FIFO, as a shell's `|` or a container runtime hands one. */
function fifo(path: string): StdoutReader {
  execFileSync('mkfifo', [path]);
  // Opened for reading first (not blocking), so that the writer's open finds a reader.
  const reading = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
  let text = '';
  reading.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const fd = openSync(path, constants.O_WRONLY);
  return {
    fd,
    // porthole has its own copy of the writing end.
    attach: () => closeSync(fd),
    pause: () => reading.pause(),
    resume: () => reading.resume(),
    text: () => text,
    close: () => reading.destroy(),
  };
}

/** A porthole logging its access lines to stdout, announced through its audit log. */
async function startOnStdout(name: string, reader: StdoutReader): Promise<{ porthole: PortholeProcess; audit: string }> {
  const audit = join(work, `${name}-audit.log`);
  const porthole = await startPorthole({
    config: `log:\n  level: info\n  output: stdout\n  audit: ${audit}\n`,
    logLevel: null,
    announcedIn: audit,
    root: join(work, name),
    ...(reader.fd === undefined ? {} : { stdoutFd: reader.fd }),
  });
  reader.attach(porthole);
  return { porthole, audit };
}

async function manyRequests(porthole: PortholeProcess): Promise<void> {
  await runClients(8, REQUESTS, async (n) => {
    const response = await fetch(`${porthole.url}/v2/?n=${n}`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  });
}

const READERS: Array<{ kind: string; make(name: string): StdoutReader }> = [
  { kind: 'a socket pair', make: () => socketPair() },
  { kind: 'a FIFO', make: (name) => fifo(join(work, `${name}.fifo`)) },
];

for (const [index, { kind, make }] of READERS.entries()) {
  describe(`log.output stdout on ${kind} nobody reads`, () => {
    it(`serves on, and SIGTERM ends it once stdout has taken nothing for ${FLUSH_STALL_MS} ms (exit 0, the audit log complete)`, async () => {
      const name = `unread-${index}`;
      const reader = make(name);
      const { porthole, audit } = await startOnStdout(name, reader);
      try {
        reader.pause();
        await manyRequests(porthole);
        porthole.process.kill('SIGTERM');
        const code = await exitWithin(porthole.exited, FLUSH_STALL_MS + 10_000);
        assert.equal(code, 0, `porthole did not end: ${code}; stderr:\n${porthole.stderr()}`);
        const events = (await readFile(audit, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { action: string });
        assert.equal(events.filter((event) => event.action === 'server.stop').length, 1, 'the audit log has the stop');
      } finally {
        await porthole.kill9();
        reader.close();
      }
    });

    it('loses nothing to a reader that is only slow: every access line and "porthole stopped" come through', async () => {
      const name = `slow-${index}`;
      const reader = make(name);
      const { porthole } = await startOnStdout(name, reader);
      try {
        reader.pause();
        await manyRequests(porthole);
        porthole.process.kill('SIGTERM');
        // Slower than a synchronous flush waits (1 s), well within what flush() waits.
        await sleep(2_000);
        reader.resume();
        const code = await exitWithin(porthole.exited, 20_000);
        assert.equal(code, 0, `exit: ${code}; stderr:\n${porthole.stderr()}`);
        // Past the exit, what is still in the pipe comes through.
        await waitFor('"porthole stopped" from the pipe', () => logLinesWith(reader.text(), 'porthole stopped').length === 1, 10_000);
        const served = logLinesWith(reader.text(), 'request served').filter((line) => typeof line.query === 'string' && line.query.startsWith('n='));
        assert.equal(new Set(served.map((line) => line.query)).size, REQUESTS, 'every access line');
        assert.equal(served.length, REQUESTS, 'none twice');
      } finally {
        await porthole.kill9();
        reader.close();
      }
    });
  });
}
