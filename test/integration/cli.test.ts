import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { EXPORTER_CLI } from '../helpers/exporter-process.js';
import { cleanup, PORTHOLE_CLI, tempDir } from '../helpers/porthole-process.js';
import { runCli } from '../helpers/run-cli.js';

// dist/test/integration -> the checkout.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What `git rev-parse HEAD` says of the checkout the tests run in; undefined without git or a checkout. */
function headCommit(): string | undefined {
  const result = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

describe('porthole --version', () => {
  it('prints the version of package.json and the commit checked out, with --version and -V', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const commit = headCommit() ?? 'unknown';
    const env = { ...process.env };
    delete env.PORTHOLE_COMMIT;
    for (const flag of ['--version', '-V']) {
      const result = spawnSync(process.execPath, [PORTHOLE_CLI, flag], { env, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout.trim(), `porthole ${version} (commit ${commit}, node ${process.version})`);
    }
  });

  it('reports PORTHOLE_COMMIT when whoever built porthole set it', () => {
    const result = spawnSync(process.execPath, [PORTHOLE_CLI, '-V'], { env: { ...process.env, PORTHOLE_COMMIT: 'f00d' }, encoding: 'utf8' });
    assert.match(result.stdout, /\(commit f00d,/);
  });
});

describe('porthole verify', () => {
  it('prints ok for a valid file', async () => {
    const dir = await tempDir('verify');
    const file = join(dir, 'ok.yaml');
    await writeFile(file, 'http:\n  port: 5001\nstorage:\n  delete:\n    enabled: false\n');
    const result = await runCli(['verify', file]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), 'ok');
    await cleanup(dir);
  });

  it('lists every problem with its key and exits 2', async () => {
    const dir = await tempDir('verify');
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'http:\n  port: 70000\n  adress: x\nlog:\n  level: chatty\n');
    const result = await runCli(['verify', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /3 problem/);
    assert.match(result.stderr, /http\.port:/);
    assert.match(result.stderr, /http\.adress: unknown key/);
    assert.match(result.stderr, /log\.level:/);
    await cleanup(dir);
  });
  it('shows the excerpt of a YAML syntax error', async () => {
    const dir = await tempDir('verify');
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'http:\n port: 5000\n  address: x\n');
    const result = await runCli(['verify', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /at line 2, column \d+:\n +port: 5000\n +\^/);
    await cleanup(dir);
  });

  it('suggests the key an unknown one misspells, in verify and serve', async () => {
    const dir = await tempDir('verify');
    const file = join(dir, 'typo.yaml');
    await writeFile(file, `storage:\n  rootDirectry: ${join(dir, 'data')}\n`);
    const verified = await runCli(['verify', file]);
    assert.equal(verified.code, 2);
    assert.match(verified.stderr, /storage\.rootDirectry: unknown key \(did you mean filesystem\.rootDirectory\?\)/);
    const served = await runCli(['serve', '--port', '0', '--config', file]);
    assert.equal(served.code, 2);
    assert.match(served.stderr, /storage\.rootDirectry: unknown key \(did you mean filesystem\.rootDirectory\?\)/);
    await cleanup(dir);
  });
});

describe('porthole prune without a pull-through cache', () => {
  it('says that prune needs a configuration with a proxy section, flags or not', async () => {
    const env = { ...process.env };
    delete env.PORTHOLE_CONFIG;
    for (const args of [['prune'], ['prune', '--dry-run', '--older-than', '30d']]) {
      const result = spawnSync(process.execPath, [PORTHOLE_CLI, ...args], { env, encoding: 'utf8' });
      assert.equal(result.status, 2);
      assert.doesNotMatch(result.stderr, /proxy\.upstreams/);
      assert.match(result.stderr, /prune works on a pull-through cache and needs a configuration with a proxy section .*--config FILE/);
    }
  });

  it('names the file that has no proxy section', async () => {
    const dir = await tempDir('prune');
    const file = join(dir, 'hosted.yaml');
    await writeFile(file, 'http:\n  port: 5001\n');
    const result = await runCli(['prune', '--config', file, '--older-than', '1d']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no proxy section: prune works on a pull-through cache`));
    await cleanup(dir);
  });
});

describe('porthole serve start-up failures', () => {
  it('exits 2 naming the key when the config is invalid', async () => {
    const result = await runCli(['serve', '--port', 'eighty']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /http\.port/);
  });

  it('says which numbers a port flag takes', async () => {
    const port = await runCli(['serve', '--port', 'abc']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /http\.port: must be a whole number from 0 to 65535/);
    const metrics = await runCli(['serve', '--port', '0', '--metrics', 'abc']);
    assert.equal(metrics.code, 2);
    assert.match(metrics.stderr, /extensions\.metrics\.port: must be a whole number from 0 to 65535/);
  });

  it('exits 2 naming http.address (porthole-exporter: Exporter.address) when no interface has the address', async (t) => {
    // TEST-NET-3 (RFC 5737): documentation only, on no interface unless someone put it there.
    const address = '203.0.113.1';
    if (Object.values(networkInterfaces()).some((list) => list?.some((entry) => entry.address === address))) {
      t.skip(`${address} is on an interface of this machine`);
      return;
    }
    const dir = await tempDir('address');
    const result = await runCli(['serve', '--port', '0', '--address', address, '--root', join(dir, 'data')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /http\.address: cannot listen on 203\.0\.113\.1:0 \(EADDRNOTAVAIL\)/);
    const config = join(dir, 'exporter.json');
    await writeFile(config, JSON.stringify({ Server: { host: '127.0.0.1', port: 5000 }, Exporter: { address, port: 0 } }));
    const exporter = await runCli(['config', config], { cli: EXPORTER_CLI });
    assert.equal(exporter.code, 2);
    assert.match(exporter.stderr, /Exporter\.address: cannot listen on 203\.0\.113\.1:0 \(EADDRNOTAVAIL\)/);
    await cleanup(dir);
  });

  it('exits 2 naming http.port when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const dir = await tempDir('taken');
    try {
      const result = await runCli(['serve', '--port', String(port), '--root', join(dir, 'data')]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /http\.port: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    } finally {
      taken.close();
      await cleanup(dir);
    }
  });

  it('exits 2 naming log.output when the log file cannot be opened', async () => {
    const result = await runCli(['serve', '--port', '0', '--log-output', '/nonexistent-dir/porthole.log']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /log\.output/);
  });

  it('exits 2 naming storage.filesystem.rootDirectory when the root cannot be created', async () => {
    const dir = await tempDir('ro');
    const blocked = join(dir, 'file');
    await writeFile(blocked, 'not a directory');
    const result = await runCli(['serve', '--port', '0', '--root', join(blocked, 'data')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /storage\.filesystem\.rootDirectory/);
    await cleanup(dir);
  });

  // Node's recursive mkdir never settles under /proc: start-up used to hang for ever.
  it('exits 2 naming storage.filesystem.rootDirectory when the root is under /proc', { skip: !existsSync('/proc/self') && 'no /proc here' }, async () => {
    const result = await runCli(['serve', '--port', '0', '--root', '/proc/nope']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /storage\.filesystem\.rootDirectory: cannot use "\/proc\/nope"/);
  });

  // Preparing this root never ends (Node's recursive mkdir of its _tmp loops between ENOENT and
  // EEXIST): the step bound stops start-up. Where that mkdir is made to fail instead, the root is
  // refused at once; either way porthole must exit 2 naming the key rather than hang.
  it('bounds start-up steps: a root whose preparation never ends exits 2 naming storage.filesystem.rootDirectory', { skip: !existsSync('/proc/self') && 'no /proc here' }, () => {
    const env = { ...process.env, PORTHOLE_STARTUP_TIMEOUT: '1s' };
    const result = spawnSync(process.execPath, [PORTHOLE_CLI, 'serve', '--port', '0', '--root', '/proc/self'], { env, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    assert.equal(result.status, 2, `exit ${result.status} ${result.signal ?? ''}: ${result.stderr}`);
    assert.match(result.stderr, /storage\.filesystem\.rootDirectory: (preparing storage in "\/proc\/self" did not finish within 1s \(PORTHOLE_STARTUP_TIMEOUT|cannot use "\/proc\/self")/);
  });

  it('exits 2 when PORTHOLE_STARTUP_TIMEOUT is not a duration', () => {
    const result = spawnSync(process.execPath, [PORTHOLE_CLI, 'serve', '--port', '0'], { env: { ...process.env, PORTHOLE_STARTUP_TIMEOUT: 'soon' }, encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /PORTHOLE_STARTUP_TIMEOUT: "soon" is not a duration/);
  });

  it('writes the log file with mode 0600 when log.output is a path', async () => {
    const dir = await tempDir('logfile');
    await mkdir(join(dir, 'logs'));
    await chmod(join(dir, 'logs'), 0o755);
    const child = spawn(process.execPath, [PORTHOLE_CLI, 'serve', '--port', '0', '--root', join(dir, 'data'), '--log-output', join(dir, 'logs', 'p.log')]);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !(existsSync(join(dir, 'logs', 'p.log')) && (await readFile(join(dir, 'logs', 'p.log'), 'utf8')).includes('porthole listening'))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const info = await stat(join(dir, 'logs', 'p.log'));
    assert.equal(info.mode & 0o777, 0o600);
    const lines = (await readFile(join(dir, 'logs', 'p.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string });
    assert.ok(lines.some((l) => l.msg === 'porthole listening' && l.level === 'info'));
    assert.ok(lines.some((l) => l.msg === 'porthole stopped'));
    await cleanup(dir);
  });
});

describe('porthole serve defaults', () => {
  it('listens on 127.0.0.1:5000 and stores under ./data with no config', async (t) => {
    const dir = await tempDir('defaults');
    const child = spawn(process.execPath, [PORTHOLE_CLI, 'serve'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !output.includes('porthole listening') && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    if (output.includes('EADDRINUSE')) {
      t.skip('port 5000 is taken on this machine');
      await cleanup(dir);
      return;
    }
    try {
      const line = JSON.parse(output.split('\n').find((l) => l.includes('porthole listening')) ?? '{}') as { address?: string; port?: number };
      assert.equal(line.address, '127.0.0.1');
      assert.equal(line.port, 5000);
      const response = await fetch('http://127.0.0.1:5000/v2/');
      assert.equal(response.status, 200);
      assert.ok(existsSync(join(dir, 'data')), './data was created');
    } finally {
      child.kill('SIGTERM');
      await exited;
      await cleanup(dir);
    }
  });
});
