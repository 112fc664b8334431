import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startExporter, type ExporterConfigInput, type ExporterProcess } from '../helpers/exporter-process.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { logLinesWith } from '../helpers/service-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

/**
 * The readers of a protected metrics endpoint, for real: Prometheus (Debian's) scrapes full mode
 * with `basic_auth` + `password_file` and with `authorization.credentials_file`, and
 * porthole-exporter reads minimal mode's snapshot with its own credentials. The htpasswd file is
 * made by Apache's htpasswd. Everything is started once, side by side, in `before`: Prometheus
 * takes about 5 s to its first scrape.
 */

const PROMETHEUS_PASSWORD = 'prom-scrape-pass-51c2';
const EXPORTER_PASSWORD = 'exporter-pass-93ad';
const WRONG_PASSWORD = 'wrong-pass-e70b';
const TOKEN = 'scrape-token-4f8e2a9c61';
const SECRETS = [PROMETHEUS_PASSWORD, EXPORTER_PASSWORD, WRONG_PASSWORD, TOKEN];
const EXPORTER_WARNING = 'porthole cannot be read; answering porthole_up 0';

/** The same users and token in both portholes; limits on failed logins out of the way of the wrong-password scrapers. */
function portholeConfig(htpasswd: string, tokenFile: string, mode: 'full' | 'minimal'): string {
  return [
    'auth:',
    `  htpasswd: {path: ${JSON.stringify(htpasswd)}}`,
    '  failedLogins: {limit: 1000, userLimit: 1000}',
    'extensions:',
    '  metrics:',
    `    enable: ${mode === 'full'}`,
    `    auth: {users: [prometheus, exporter], bearerTokenFile: ${JSON.stringify(tokenFile)}}`,
    '',
  ].join('\n');
}

describe('Prometheus and porthole-exporter read a protected /metrics', { skip: skipUnlessTools('prometheus', 'htpasswd'), timeout: 60_000 }, () => {
  let work = '';
  let full: PortholeProcess | undefined;
  let minimal: PortholeProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  const exporters: Record<'right' | 'wrong' | 'token', ExporterProcess | undefined> = { right: undefined, wrong: undefined, token: undefined };

  before(async () => {
    work = await tempDir('metrics-auth-scrapers');
    const htpasswd = join(work, 'htpasswd');
    const tokenFile = join(work, 'token');
    const passwordFile = join(work, 'prometheus-password');
    const wrongFile = join(work, 'wrong-password');
    const exporterPasswordFile = join(work, 'exporter-password');
    await addHtpasswdUsers(htpasswd, { prometheus: PROMETHEUS_PASSWORD, exporter: EXPORTER_PASSWORD }, { create: true });
    await Promise.all([
      writeFile(tokenFile, `${TOKEN}\n`),
      writeFile(passwordFile, `${PROMETHEUS_PASSWORD}\n`),
      writeFile(wrongFile, WRONG_PASSWORD),
      writeFile(exporterPasswordFile, EXPORTER_PASSWORD),
    ]);
    // At debug, so that even the scrapes' access lines are there to be searched for secrets.
    [full, minimal] = await Promise.all([
      startPorthole({ config: portholeConfig(htpasswd, tokenFile, 'full'), logLevel: 'debug' }),
      startPorthole({ config: portholeConfig(htpasswd, tokenFile, 'minimal'), logLevel: 'debug' }),
    ]);
    const target = full.host;
    const exporterWith = (server: ExporterConfigInput['Server']) =>
      startExporter({ config: { Server: { host: '127.0.0.1', port: (minimal as PortholeProcess).port, ...server }, Exporter: { log: { level: 'debug' } } } });
    [prometheus, exporters.right, exporters.wrong, exporters.token] = await Promise.all([
      startPrometheus({
        targets: [
          { job: 'basic', target, basicAuth: { username: 'prometheus', passwordFile } },
          { job: 'token', target, bearerTokenFile: tokenFile },
          { job: 'wrong-password', target, basicAuth: { username: 'prometheus', passwordFile: wrongFile } },
          { job: 'none', target },
        ],
      }),
      exporterWith({ username: 'exporter', passwordFile: exporterPasswordFile }),
      exporterWith({ username: 'exporter', password: WRONG_PASSWORD }),
      exporterWith({ bearerTokenFile: tokenFile }),
    ]);
  });

  after(async () => {
    await Promise.all([prometheus?.dispose(), ...Object.values(exporters).map((exporter) => exporter?.dispose()), full?.stop(), minimal?.stop()]);
    await cleanup(...[work, full?.root, minimal?.root].filter((dir): dir is string => dir !== undefined));
  });

  function started<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} did not start`);
    return value;
  }

  /** `up` of each job once each has been scraped at least once. */
  async function upByJob(): Promise<Record<string, number>> {
    const server = started(prometheus, 'Prometheus');
    const jobs = ['basic', 'token', 'wrong-password', 'none'];
    let up: Record<string, number> = {};
    await waitFor(
      'a scrape of every job',
      async () => {
        up = Object.fromEntries((await server.query('up')).map((sample) => [sample.labels.job ?? '', sample.value]));
        return jobs.every((job) => job in up);
      },
      30_000,
    );
    return up;
  }

  test('Prometheus with basic_auth (password_file) or a bearer credentials_file: up 1; with a wrong password or none: up 0', async () => {
    assert.deepEqual(await upByJob(), { basic: 1, token: 1, 'wrong-password': 0, none: 0 });
    // What was scraped is porthole's metrics, under both jobs that were let in.
    const info = await started(prometheus, 'Prometheus').query('porthole_info');
    assert.deepEqual(info.map((sample) => sample.labels.job).sort(), ['basic', 'token']);
  });

  test('porthole-exporter with the right password or the token: porthole_up 1 and porthole\'s metrics', async () => {
    for (const exporter of [started(exporters.right, 'the exporter'), started(exporters.token, 'the token exporter')]) {
      const exposition = new Exposition(await exporter.scrape());
      assert.equal(exposition.value('porthole_up'), 1);
      assert.equal(exposition.value('porthole_info', { mode: 'minimal' }), 1);
    }
  });

  test('porthole-exporter with a wrong password: porthole_up 0, and one warning saying porthole refused its credentials', async () => {
    const exporter = started(exporters.wrong, 'the exporter');
    for (let scrape = 0; scrape < 3; scrape += 1) {
      const exposition = new Exposition(await exporter.scrape());
      assert.equal(exposition.value('porthole_up'), 0);
      assert.deepEqual(exposition.find('porthole_info'), [], 'nothing of porthole is answered');
    }
    const warnings = logLinesWith(exporter.stdout(), EXPORTER_WARNING);
    assert.equal(warnings.length, 1, 'logged once, not on every scrape');
    assert.equal(warnings[0]?.reason, 'unauthorized');
    const message = String((warnings[0]?.err as { message?: unknown } | undefined)?.message);
    assert.match(message, /refused the exporter's credentials \(401: wrong user name or password\)/);
  });

  test('no password or token in the output of porthole, porthole-exporter or Prometheus', () => {
    const outputs = {
      'porthole (full)': started(full, 'porthole').output(),
      'porthole (minimal)': started(minimal, 'porthole').output(),
      ...Object.fromEntries(Object.entries(exporters).map(([name, exporter]) => [`exporter (${name})`, started(exporter, 'the exporter').output()])),
      prometheus: started(prometheus, 'Prometheus').output(),
    };
    const encoded = [
      Buffer.from(`prometheus:${PROMETHEUS_PASSWORD}`).toString('base64'),
      Buffer.from(`exporter:${EXPORTER_PASSWORD}`).toString('base64'),
      Buffer.from(`exporter:${WRONG_PASSWORD}`).toString('base64'),
    ];
    for (const [name, output] of Object.entries(outputs)) {
      for (const secret of [...SECRETS, ...encoded]) assert.ok(!output.includes(secret), `${name}'s output holds ${secret}`);
    }
    // The scrapes were there to be searched: porthole logged them, with their users.
    assert.match(outputs['porthole (full)'], /"user":"prometheus"/);
  });
});
