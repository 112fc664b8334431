import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { loadExporterConfig, type CredentialFlags } from '../../src/exporter/config.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

describe('porthole-exporter configuration', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('exporter-config');
  });
  after(() => cleanup(dir));

  async function load(name: string, text: string, flags?: CredentialFlags) {
    const file = join(dir, name);
    await writeFile(file, text);
    return loadExporterConfig(file, flags);
  }

  async function problems(name: string, text: string, flags?: CredentialFlags): Promise<string[]> {
    try {
      await load(name, text, flags);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    assert.fail('expected a ConfigError');
  }

  it('defaults to porthole on 127.0.0.1:5000/metrics, served on 0.0.0.0:5051/metrics', async () => {
    const config = await load('empty.yaml', '');
    assert.deepEqual(
      { ...config.Server, Exporter: config.Exporter },
      {
        protocol: 'http',
        host: '127.0.0.1',
        port: 5000,
        path: '/metrics',
        timeout: '10s',
        Exporter: { address: '0.0.0.0', port: 5051, log: { level: 'info', output: 'stdout' }, metrics: { path: '/metrics' } },
      },
    );
  });

  it('reads zxp-shaped YAML and JSON, ports as strings included', async () => {
    const yaml = await load('zxp.yaml', 'Server:\n  protocol: https\n  host: registry.local\n  port: "5443"\nExporter:\n  port: "5052"\n  metrics:\n    path: /zxp\n');
    assert.deepEqual([yaml.Server.protocol, yaml.Server.host, yaml.Server.port, yaml.Exporter.port, yaml.Exporter.metrics.path], ['https', 'registry.local', 5443, 5052, '/zxp']);
    const json = await load('zxp.json', JSON.stringify({ Server: { port: 6000, username: 'u', password: 'p' } }));
    assert.deepEqual([json.Server.port, json.Server.username, json.Server.password], [6000, 'u', 'p']);
  });

  it('names every key at fault', async () => {
    const found = await problems('bad.yaml', 'Server:\n  protocol: ftp\n  hostname: x\n  timeout: soon\nExporter:\n  port: "70000"\n  log:\n    level: loud\n');
    assert.deepEqual(found.map((p) => p.split(':')[0]).sort(), ['Exporter.log.level', 'Exporter.port', 'Server.hostname', 'Server.protocol', 'Server.timeout']);
  });

  it('refuses credentials or a path written into Server.host, without repeating them', async () => {
    for (const host of ['user:secret@registry.local', 'registry.local/metrics']) {
      const found = await problems('host.yaml', `Server:\n  host: "${host}"\n`);
      assert.deepEqual(found, ['Server.host: must be a host name or address alone; give credentials as Server.username and Server.password']);
    }
  });

  it('refuses a passwordFromEnv naming a variable that is not set', async () => {
    assert.deepEqual(await problems('env.yaml', 'Server:\n  username: u\n  passwordFromEnv: PORTHOLE_TEST_NEVER_SET\n'), [
      'Server.passwordFromEnv: environment variable PORTHOLE_TEST_NEVER_SET is not set',
    ]);
  });

  it('takes a password file or a bearer token file, each checked at start-up', async () => {
    const passwordFile = join(dir, 'password');
    const tokenFile = join(dir, 'token');
    await writeFile(passwordFile, 'pw\n');
    await writeFile(tokenFile, 'tok\n');
    const basic = await load('password-file.yaml', `Server:\n  username: u\n  passwordFile: ${passwordFile}\n`);
    assert.equal(basic.Server.passwordFile, passwordFile);
    const bearer = await load('token-file.yaml', `Server:\n  bearerTokenFile: ${tokenFile}\n`);
    assert.equal(bearer.Server.bearerTokenFile, tokenFile);

    const empty = join(dir, 'empty');
    await writeFile(empty, ' \n');
    assert.deepEqual(await problems('missing.yaml', `Server:\n  username: u\n  passwordFile: ${join(dir, 'nope')}\n`), [`Server.passwordFile: cannot read ${join(dir, 'nope')} (ENOENT)`]);
    assert.deepEqual(await problems('empty.yaml', `Server:\n  bearerTokenFile: ${empty}\n`), [`Server.bearerTokenFile: ${empty} is empty`]);
  });

  it('refuses credentials that contradict each other', async () => {
    assert.deepEqual(await problems('two-passwords.yaml', 'Server:\n  username: u\n  password: p\n  passwordFile: /x\n'), [
      'Server.passwordFile: give one of password, passwordFromEnv and passwordFile, not password and passwordFile',
    ]);
    assert.deepEqual(await problems('no-user.yaml', 'Server:\n  password: p\n'), ['Server.password: needs Server.username']);
    assert.deepEqual(await problems('both.yaml', 'Server:\n  username: u\n  bearerTokenFile: /x\n'), [
      'Server.bearerTokenFile: give Basic credentials (Server.username) or a bearer token, not both',
    ]);
  });

  it('credentials from flags replace the file\'s as a whole', async () => {
    const tokenFile = join(dir, 'flag-token');
    await writeFile(tokenFile, 'tok');
    const fileText = 'Server:\n  host: registry.local\n  username: u\n  password: p\n';
    const replaced = await load('flags.yaml', fileText, { bearerTokenFile: tokenFile });
    assert.deepEqual([replaced.Server.host, replaced.Server.username, replaced.Server.password, replaced.Server.bearerTokenFile], ['registry.local', undefined, undefined, tokenFile]);
    const kept = await load('no-flags.yaml', fileText, { username: undefined });
    assert.deepEqual([kept.Server.username, kept.Server.password], ['u', 'p']);
  });
});
