import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertStatus } from '../helpers/assert-registry.js';
import { cleanup, startPorthole, tempDir } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { runCli } from '../helpers/run-cli.js';
import { accessLinesOf, ISO_TIME, parseJsonLines, type LogLine } from './json-lines.js';
import { readLogFiles, startLogged } from './logged-porthole.js';

/** Where log lines go (stdout, stderr, a file), how files are created and appended to, and the start-up refusals. */

let work: string;

before(async () => {
  work = await tempDir('log-output');
});

after(() => cleanup(work));

/** A config file in its own directory, for the commands that must refuse it. */
async function configFile(name: string, config: unknown): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  const file = join(dir, 'porthole.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

describe('log.output', () => {
  it('stdout by default: log lines only, and nothing on stderr', async () => {
    const porthole = await startPorthole({ root: join(work, 'stdout-root') });
    assertStatus(await raw(porthole.url, { path: '/v2/' }), 200);
    assert.equal(await porthole.stop(), 0);
    const lines = parseJsonLines<LogLine>(porthole.stdout(), 'stdout');
    assert.deepEqual(
      lines.map((line) => line.msg),
      [
        `Server listening at http://127.0.0.1:${porthole.port}`,
        'porthole listening',
        'request served',
        'shutting down: no new connections, finishing requests in flight',
        'porthole stopped',
      ],
    );
    for (const line of lines) assert.match(line.time, ISO_TIME);
    assert.equal(porthole.stderr(), '');
  });

  it('stderr when asked: the same lines there, and nothing on stdout', async () => {
    const dir = join(work, 'stderr');
    await mkdir(dir);
    const audit = join(dir, 'audit.log');
    const porthole = await startPorthole({
      root: join(dir, 'root'),
      config: JSON.stringify({ log: { output: 'stderr', audit } }),
      announcedIn: audit,
    });
    assertStatus(await raw(porthole.url, { path: '/v2/' }), 200);
    assert.equal(await porthole.stop(), 0);
    assert.equal(porthole.stdout(), '');
    const lines = parseJsonLines<LogLine>(porthole.stderr(), 'stderr');
    assert.equal(accessLinesOf(lines).length, 1);
    assert.equal(lines.at(-1)?.msg, 'porthole stopped');
  });

  it('a file: created with mode 0600 (as is the audit log), and appended to by the next start', async () => {
    const dir = join(work, 'file');
    await mkdir(dir);
    const first = await startLogged({ dir, args: ['--log-level', 'info'] });
    assertStatus(await raw(first.porthole.url, { path: '/v2/?run=1' }), 200);
    assert.equal(await first.porthole.stop(), 0);
    for (const file of [first.log, first.audit]) assert.equal((await stat(file)).mode & 0o777, 0o600, file);
    assert.equal(first.porthole.stdout(), '', 'nothing went to stdout');
    const firstLog = await readFile(first.log, 'utf8');
    const firstAudit = await readFile(first.audit, 'utf8');

    const second = await startLogged({ dir });
    assertStatus(await raw(second.porthole.url, { path: '/v2/?run=2' }), 200);
    assert.equal(await second.porthole.stop(), 0);
    const log = await readFile(second.log, 'utf8');
    assert.ok(log.startsWith(firstLog), 'the first run is still there, unchanged');
    assert.ok((await readFile(second.audit, 'utf8')).startsWith(firstAudit), 'so is its audit log');
    const files = await readLogFiles(second);
    assert.deepEqual(
      accessLinesOf(files.log).map((line) => line.query),
      ['run=1', 'run=2'],
    );
    assert.deepEqual(
      files.audit.map((line) => line.action),
      ['server.start', 'server.stop', 'server.start', 'server.stop'],
    );
    assert.equal(files.log.filter((line) => line.msg === 'porthole listening').length, 2);
    for (const file of [second.log, second.audit]) assert.equal((await stat(file)).mode & 0o777, 0o600, file);
  });
});

describe('start-up refuses a log configuration it cannot use (exit 2, naming the key)', () => {
  it('an unknown level, as a flag', async () => {
    const result = await runCli(['serve', '--port', '0', '--root', join(work, 'unused'), '--log-level', 'verbose']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /log\.level/);
    assert.doesNotMatch(result.stdout, /porthole listening/);
  });

  it('an unknown level, in the file', async () => {
    const file = await configFile('bad-level', { log: { level: 'loud' } });
    const result = await runCli(['serve', '--port', '0', '--root', join(work, 'unused'), '--config', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /log\.level/);
  });

  const unopenable: Array<[string, string, (dir: string) => string]> = [
    ['log.output', 'in a directory that does not exist', (dir) => join(dir, 'missing', 'porthole.log')],
    ['log.output', 'that is a directory', (dir) => dir],
    ['log.audit', 'in a directory that does not exist', (dir) => join(dir, 'missing', 'audit.log')],
    ['log.audit', 'that is a directory', (dir) => dir],
  ];
  for (const [key, what, pathIn] of unopenable) {
    it(`${key} ${what}`, async () => {
      const name = `${key}-${what}`.replaceAll(' ', '-');
      const dir = join(work, name);
      const path = pathIn(dir);
      const log = key === 'log.output' ? { output: path } : { output: join(dir, 'porthole.log'), audit: path };
      const file = await configFile(name, { log });
      const result = await runCli(['serve', '--port', '0', '--root', join(dir, 'root'), '--config', file]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^porthole: ${key.replace('.', '\\.')}: cannot open "${path}" for append \\((ENOENT|EISDIR)\\)$`, 'm'));
    });
  }
});
