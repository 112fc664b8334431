import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { API_OPTION_SPECS, resolveApiOptions, type ApiOptions, type FlagValues, type OptionName } from '../../src/exporter/api/options.js';
import { EXPORTER_CLI } from '../helpers/exporter-process.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { findLogLine, spawnService, waitForService } from '../helpers/service-process.js';
import { OpensslCa } from '../tls/openssl-ca.js';

/** Every variable the api mode reads, removed from the environment the tests start it in. */
const OWN_VARIABLES = [...API_OPTION_SPECS.map((spec) => spec.env), 'CONFIG_FILE'];

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of OWN_VARIABLES) delete env[name];
  return { ...env, ...extra };
}

/** Runs `porthole-exporter api ARGS` to its exit (bounded: 20 s) with exactly `env` added to a clean environment. */
function runApi(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(['api', ...args], { cli: EXPORTER_CLI, env: cleanEnv(env) });
}

/** Starts `porthole-exporter api ARGS`, returns its "listening" line, and stops it. */
async function listeningLine(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>> {
  const service = spawnService(process.execPath, [EXPORTER_CLI, 'api', ...args], cleanEnv(env));
  try {
    return await waitForService(service, 'its "porthole-exporter listening" line', () => findLogLine(service.stdout(), 'porthole-exporter listening'));
  } finally {
    await service.stop();
  }
}

/** Three distinct valid values of every option (as flag, variable and file would give them) and what each parses to. */
interface Layer {
  flags: FlagValues;
  env: NodeJS.ProcessEnv;
  file: Record<string, unknown>;
  expected: ApiOptions;
}

function layers(files: { ca: string[]; cert: string[]; key: string[] }): { flag: Layer; env: Layer; file: Layer } {
  const make = (i: 0 | 1 | 2): ApiOptions => ({
    connectionString: `https://registry-${i}.example:${5000 + i}`,
    ca: files.ca[i],
    cert: files.cert[i],
    key: files.key[i],
    username: `user-${i}`,
    password: `secret-${i}`,
    enableTls: i !== 1,
    port: 0,
    listenAddress: ['127.0.0.1', '127.0.0.2', '127.0.0.3'][i] as string,
    timeoutMs: [2000, 3000, 4000][i] as number,
    intervalMs: [60_000, 90_000, 45_000][i] as number,
    jobCount: 10 + i,
    maxRepositories: 20 + i,
    verbose: i !== 2,
  });
  const texts = (o: ApiOptions, i: number): Record<OptionName, string> => ({
    connectionString: o.connectionString,
    ca: o.ca as string,
    cert: o.cert as string,
    key: o.key as string,
    username: o.username as string,
    password: o.password as string,
    enableTls: String(o.enableTls),
    port: '0',
    listenAddress: o.listenAddress,
    timeoutMs: ['2s', '3000ms', '4s'][i] as string,
    intervalMs: ['1m', '1m30s', '45s'][i] as string,
    jobCount: String(o.jobCount),
    maxRepositories: String(o.maxRepositories),
    verbose: String(o.verbose),
  });
  const flagOptions = make(0);
  const envOptions = make(1);
  const fileOptions = make(2);
  const flagTexts = texts(flagOptions, 0);
  const envTexts = texts(envOptions, 1);
  const fileTexts = texts(fileOptions, 2);
  const env: NodeJS.ProcessEnv = {};
  const file: Record<string, unknown> = {};
  for (const spec of API_OPTION_SPECS) {
    env[spec.env] = envTexts[spec.name];
    file[spec.key] = fileTexts[spec.name];
  }
  // A file may hold numbers and booleans as such.
  Object.assign(file, { port: 0, jobCount: fileOptions.jobCount, maxRepositories: fileOptions.maxRepositories, enableTls: true, verbose: false });
  return {
    flag: { flags: flagTexts, env, file, expected: flagOptions },
    env: { flags: {}, env, file, expected: envOptions },
    file: { flags: {}, env: {}, file, expected: fileOptions },
  };
}

function flagArgs(flags: FlagValues): string[] {
  return API_OPTION_SPECS.flatMap((spec) => (flags[spec.name] === undefined ? [] : [`${spec.flag}=${String(flags[spec.name])}`]));
}

describe('porthole-exporter api: options', () => {
  let dir: string;
  let ca: OpensslCa;
  const files = { ca: [] as string[], cert: [] as string[], key: [] as string[] };

  before(async () => {
    dir = await tempDir('exporter-api-options');
    ca = await OpensslCa.create(join(dir, 'ca'), 'exporter-test-ca');
    for (const i of [0, 1, 2]) {
      const client = await ca.issue(`client-${i}`, { cn: `client-${i}`, usage: 'client' });
      files.ca.push(ca.certificate);
      files.cert.push(client.certificate);
      files.key.push(client.key);
    }
  });
  after(() => cleanup(dir));

  async function configFile(name: string, values: Record<string, unknown>): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(values));
    return path;
  }

  it('flags win over the environment, the environment over the file, the file over the defaults, for every option', async () => {
    const all = layers(files);
    for (const [name, layer] of Object.entries(all)) {
      const path = await configFile(`precedence-${name}.json`, layer.file);
      const { options } = await resolveApiOptions({ ...layer.flags, config: path }, layer.env);
      assert.deepEqual(options, layer.expected, `${name} layer`);
    }
    const { options, sources } = await resolveApiOptions({ connectionString: 'https://registry.example:5000' }, {});
    assert.deepEqual(options, {
      connectionString: 'https://registry.example:5000',
      ca: undefined,
      cert: undefined,
      key: undefined,
      username: undefined,
      password: undefined,
      enableTls: true,
      port: 9580,
      listenAddress: '0.0.0.0',
      timeoutMs: 10_000,
      intervalMs: 30_000,
      jobCount: 100,
      maxRepositories: 1000,
      verbose: false,
    });
    assert.equal(sources.port, 'default');
  });

  it('reads the config file as YAML too, and CONFIG_FILE names it when --config does not', async () => {
    const path = join(dir, 'options.yaml');
    await writeFile(path, 'connectionString: http://127.0.0.1:5000\nenableTls: false\ninterval: 1m\nmaxRepositories: 5\n');
    const { options, sources } = await resolveApiOptions({}, { CONFIG_FILE: path });
    assert.deepEqual([options.connectionString, options.enableTls, options.intervalMs, options.maxRepositories], ['http://127.0.0.1:5000', false, 60_000, 5]);
    assert.match(sources.intervalMs, /^interval \(/);
  });

  it('takes --enable-tls and --verbose alone as true, and Go booleans and durations', async () => {
    const { options } = await resolveApiOptions({ connectionString: 'https://r.example', enableTls: true, verbose: true, timeoutMs: '1m30s' }, { VERBOSE: 'F' });
    assert.deepEqual([options.enableTls, options.verbose, options.timeoutMs], [true, true, 90_000]);
    assert.equal((await resolveApiOptions({ connectionString: 'https://r.example' }, { ENABLE_TLS: '0', VERBOSE: 'T' })).options.verbose, true);
  });

  it('names each bad value as given: flag, variable or file key', async () => {
    const problems = async (flags: FlagValues, env: NodeJS.ProcessEnv = {}): Promise<string[]> => {
      try {
        await resolveApiOptions(flags, env);
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
      return assert.fail('expected a ConfigError');
    };
    const base = { connectionString: 'https://r.example' };
    assert.match((await problems({ ...base, port: '-1' }))[0] as string, /^--port: /);
    assert.match((await problems(base, { PORT: '70000' }))[0] as string, /^PORT: /);
    assert.match((await problems({ ...base, enableTls: 'maybe' }))[0] as string, /^--enable-tls: "maybe" is not a boolean/);
    assert.match((await problems({ ...base, timeoutMs: '10' }))[0] as string, /^--timeout: "10" is not a duration/);
    assert.match((await problems(base, { INTERVAL: '0s' }))[0] as string, /^INTERVAL: .* longer than zero/);
    assert.match((await problems(base, { JOB_COUNT: 'lots' }))[0] as string, /^JOB_COUNT: /);
    // porthole keeps its last 1000 job runs and refuses a larger limit: refused here, not at every collection.
    assert.match((await problems({ ...base, jobCount: '5000' }))[0] as string, /^--job-count: .*from 1 to 1000/);
    assert.match((await problems({ connectionString: 'registry:5000' }))[0] as string, /^--connection-string: "registry:5000"|^--connection-string: "registry" is not a scheme/);
    assert.match((await problems({ connectionString: 'https://user:pw@r.example' }))[0] as string, /^--connection-string: must not hold credentials/);
    assert.doesNotMatch((await problems({ connectionString: 'https://user:pw@r.example' })).join('\n'), /pw/);
    assert.match((await problems({}, { CONNECTION_STRING: 'http://r.example:5000' }))[0] as string, /^CONNECTION_STRING: .*plain http.*--enable-tls=false/);
    assert.match((await problems({ ...base, cert: '/c.pem' }))[0] as string, /^--cert: .*needs its key/);
    assert.match((await problems({}))[0] as string, /^--connection-string \(or CONNECTION_STRING/);
    const file = await configFile('unknown-key.json', { connectionString: 'https://r.example', connection: 'x', port: [1] });
    const found = await problems({ config: file });
    assert.equal(found.length, 2);
    assert.ok(found.some((p) => p.startsWith(`connection (${file}): unknown key`)));
    assert.ok(found.some((p) => p.startsWith(`port (${file}): must be a single value`)));
    assert.match((await problems({ config: join(dir, 'absent.yaml') }))[0] as string, /^--config: .*absent\.yaml: cannot read the file \(ENOENT\)/);
    assert.match((await problems({}, { CONFIG_FILE: join(dir, 'absent.yaml') }))[0] as string, /^CONFIG_FILE: /);
  });

  it('the CLI: every option from flags, else from the environment, else from the file, as its listening line shows', async () => {
    const all = layers(files);
    for (const [name, layer] of Object.entries(all)) {
      const path = await configFile(`cli-${name}.json`, layer.file);
      const line = await listeningLine(['--config', path, ...flagArgs(layer.flags)], layer.env);
      const { password, ...expected } = layer.expected;
      assert.deepEqual(line.options, { ...expected, passwordGiven: password !== undefined }, `${name} layer`);
      assert.doesNotMatch(JSON.stringify(line), /secret-/, 'the password is never logged');
      assert.equal(typeof line.port, 'number');
      assert.notEqual(line.port, 0);
    }
  });

  it('the CLI: defaults, with only the connection string given', async () => {
    const line = await listeningLine([], { CONNECTION_STRING: 'https://127.0.0.1:1', PORT: '0', LISTEN_ADDRESS: '127.0.0.1' });
    const options = line.options as Record<string, unknown>;
    assert.deepEqual(
      [options.enableTls, options.timeoutMs, options.intervalMs, options.jobCount, options.maxRepositories, options.verbose],
      [true, 10_000, 30_000, 100, 1000, false],
    );
    assert.deepEqual(line.sources, {
      connectionString: 'CONNECTION_STRING', ca: 'default', cert: 'default', key: 'default', username: 'default', passwordFrom: 'default', enableTls: 'default',
      port: 'PORT', listenAddress: 'LISTEN_ADDRESS', timeoutMs: 'default', intervalMs: 'default', jobCount: 'default', maxRepositories: 'default', verbose: 'default',
    });
  });

  it('the CLI: a bad value exits 2 with one line naming it as given', async () => {
    const cases: Array<{ args: string[]; env?: NodeJS.ProcessEnv; names: RegExp }> = [
      { args: [], names: /^porthole-exporter: --connection-string \(or CONNECTION_STRING/ },
      { args: ['--connection-string', 'not a url'], names: /^porthole-exporter: --connection-string: / },
      { args: [], env: { CONNECTION_STRING: 'nope' }, names: /^porthole-exporter: CONNECTION_STRING: / },
      { args: ['--connection-string', 'https://r.example', '--enable-tls=maybe'], names: /^porthole-exporter: --enable-tls: "maybe"/ },
      { args: ['--connection-string', 'https://r.example', '--port', '-1'], names: /^porthole-exporter: --port: "-1"/ },
      { args: ['--connection-string', 'https://r.example'], env: { PORT: '-5' }, names: /^porthole-exporter: PORT: "-5"/ },
      { args: ['--connection-string', 'https://r.example', '--ca', join(dir, 'no-such-ca.pem')], names: /^porthole-exporter: --ca: cannot read .*no-such-ca\.pem \(ENOENT\)/ },
      { args: ['--connection-string', 'https://r.example'], env: { REGISTRY_CA: files.key[0] as string }, names: /^porthole-exporter: REGISTRY_CA: .* holds no PEM certificate/ },
      { args: ['--connection-string', 'https://r.example', '--timeout', 'soon'], names: /^porthole-exporter: --timeout: "soon"/ },
    ];
    const unknownKey = await configFile('cli-unknown.json', { connectionString: 'https://r.example', colour: 'blue' });
    cases.push({ args: ['--config', unknownKey], names: /^porthole-exporter: colour \(.*cli-unknown\.json\): unknown key/ });
    await Promise.all(
      cases.map(async ({ args, env, names }) => {
        const result = await runApi(args, env);
        assert.equal(result.code, 2, `${args.join(' ')} ${JSON.stringify(env ?? {})}: ${result.stderr}`);
        const lines = result.stderr.trim().split('\n');
        assert.equal(lines.length, 1, result.stderr);
        assert.match(lines[0] as string, names);
      }),
    );
  });

  it('the CLI: an unknown flag exits 2', async () => {
    const result = await runApi(['--connection-string', 'https://r.example', '--no-such-flag']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown option '--no-such-flag'/);
  });
});
