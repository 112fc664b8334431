import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { CommandError, runCommand } from '../e2e/run-command.js';
import { parseSkopeoJson, type SkopeoInspect } from '../e2e/skopeo-output.js';
import { PodmanStore } from '../e2e/podman-store.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTools, skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { logLines, type LogLine } from '../helpers/log-lines.js';
import type { AccessLine } from '../logging/json-lines.js';
import { httpsGet, servedCertificate, type ClientTls } from './https-client.js';
import { certDir, OpensslCa, type KeyPair } from './openssl-ca.js';

/**
 * TLS and mutual TLS (docs/tls.md) against REAL clients, no mocks: Debian's openssl makes a CA,
 * porthole's certificate (127.0.0.1 as an IP SAN) and client certificates (alice, an expired
 * one, one from a foreign CA); skopeo and podman verify porthole's certificate with the CA in
 * --cert-dir and present alice's from there; curl and node's https client look at what they do
 * not show (the 401 bodies, the certificate served on a new connection).
 *
 * One porthole per configuration: optional client certificates with access control (alice may
 * pull and push everywhere, anonymous requests may pull public/**), where most tests run in order
 * (the reload test comes last: it changes the certificate); required client certificates; and
 * configurations that must not start.
 */

const TEST_TIMEOUT = 60_000;

interface Certificates {
  dir: string;
  ca: OpensslCa;
  server: KeyPair;
  alice: KeyPair;
  expired: KeyPair;
  foreign: KeyPair;
  /** A client certificate without a CN, named by its DNS subjectAltName. */
  robot: KeyPair;
  /** Renewals of the server certificate: the same key, then a new key. */
  renewedSameKey: KeyPair;
  renewedNewKey: KeyPair;
}

let certificates: Certificates;
let image: LayoutDescription;

before(async () => {
  const dir = await tempDir('tls-certificates');
  const [ca, foreignCa] = await Promise.all([OpensslCa.create(join(dir, 'ca'), 'porthole-test-ca'), OpensslCa.create(join(dir, 'foreign'), 'foreign-ca')]);
  const server = await ca.issue('server', { cn: '127.0.0.1', usage: 'server', san: ['IP:127.0.0.1', 'DNS:localhost'], days: 90 });
  const [alice, expired, foreign, robot, renewedSameKey, renewedNewKey, built] = await Promise.all([
    ca.issue('alice', { cn: 'alice', usage: 'client', days: 30 }),
    ca.issueExpired('expired', 'alice'),
    foreignCa.issue('mallory', { cn: 'alice', usage: 'client' }),
    ca.issue('robot', { usage: 'client', san: ['DNS:robot.example', 'email:robot@example.com'] }),
    ca.issue('server-renewed', { cn: '127.0.0.1', usage: 'server', san: ['IP:127.0.0.1'], days: 180, key: server.key }),
    ca.issue('server-rekeyed', { cn: '127.0.0.1', usage: 'server', san: ['IP:127.0.0.1'], days: 365 }),
    buildOciLayout({ dir: join(dir, 'image'), tag: 'v1', seed: 'tls', layers: 1, filesPerLayer: 2, fileBytes: 16 * 1024 }),
  ]);
  certificates = { dir, ca, server, alice, expired, foreign, robot, renewedSameKey, renewedNewKey };
  image = built;
});

after(async () => {
  if (certificates) await cleanup(certificates.dir);
});

/** Copies of the server certificate and key for one porthole, which a test may then replace. */
async function serverFiles(dir: string): Promise<KeyPair> {
  const pair = { certificate: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  await copyFile(certificates.server.certificate, pair.certificate);
  await copyFile(certificates.server.key, pair.key);
  return pair;
}

/** Replaces `target` by `source` in one rename, as a certificate renewal tool should. */
async function replaceFile(source: string, target: string): Promise<void> {
  await copyFile(source, `${target}.new`);
  await rename(`${target}.new`, target);
}

function notAfterOf(pem: Buffer): number {
  return Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
}

/** A curl exchange over HTTPS: the status and body, or the failure curl reported. */
async function curl(url: string, args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await runCommand('curl', ['--silent', '--show-error', '--max-time', '10', '--write-out', '\n%{http_code}', ...args, url], { timeoutMs: 15_000 });
  const split = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(split + 1)), body: stdout.slice(0, split) };
}

/** The JSON lines of a porthole log file so far; a line still being written is left for the next read. */
async function linesOf(file: string): Promise<LogLine[]> {
  return logLines(await readFile(file, 'utf8').catch(() => ''));
}

/** Its access lines ("request served", one per request). */
async function accessLinesOf(file: string): Promise<AccessLine[]> {
  return (await linesOf(file)).filter((line) => line.module === 'http' && typeof line.route === 'string') as unknown as AccessLine[];
}

function isManifestPut(repo: string): (line: AccessLine) => boolean {
  return (line) => line.repo === repo && line.method === 'PUT' && line.route === '/v2/:name/manifests/:reference';
}


/** porthole's config for mutual TLS with the test CA: `http.tls`, the log file, and `more` lines. */
function mutualTlsConfig(files: { certificate: string; key: string }, logFile: string, tls: { clientAuth: 'optional' | 'required'; minVersion: string }, more: string[] = []): string {
  return [
    'http:',
    '  tls:',
    `    certificate: ${JSON.stringify(files.certificate)}`,
    `    key: ${JSON.stringify(files.key)}`,
    `    clientCA: ${JSON.stringify(certificates.ca.certificate)}`,
    `    clientAuth: ${tls.clientAuth}`,
    `    minVersion: ${tls.minVersion}`,
    'log:',
    `  output: ${JSON.stringify(logFile)}`,
    ...more,
    '',
  ].join('\n');
}

/** Stops what a suite started, whatever of it did start. */
async function stopSuite(porthole: PortholeProcess | undefined, sandbox: ContainersSandbox | undefined, work: string | undefined): Promise<void> {
  await porthole?.stop();
  await sandbox?.dispose();
  await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
}

describe('HTTPS with optional client certificates and access control', { skip: skipUnlessTools('openssl', 'skopeo', 'curl'), timeout: 180_000 }, () => {
  let work: string;
  let logFile: string;
  let files: KeyPair;
  let porthole: PortholeProcess;
  let sandbox: ContainersSandbox;
  /** Cert dirs as containers/image reads them: the CA alone, and the CA with alice's certificate. */
  let caOnly: string;
  let aliceDir: string;

  const ref = (repository: string) => `docker://${porthole.host}/${repository}:v1`;
  const source = () => `oci:${image.dir}:${image.tag}`;
  const url = (path: string) => `https://${porthole.host}${path}`;
  const trust = (client?: KeyPair): ClientTls => (client ? { ca: certificates.ca.certificate, client } : { ca: certificates.ca.certificate });
  const logs = () => linesOf(logFile);

  before(async () => {
    work = await tempDir('tls-optional');
    logFile = join(work, 'porthole.log');
    files = await serverFiles(work);
    [caOnly, aliceDir] = await Promise.all([certDir(join(work, 'certs-ca'), certificates.ca), certDir(join(work, 'certs-alice'), certificates.ca, certificates.alice)]);
    const config = mutualTlsConfig(files, logFile, { clientAuth: 'optional', minVersion: 'TLSv1.2' }, [
      'extensions: {metrics: {}}',
      'accessControl:',
      '  repositories:',
      '    "**": {policies: [{users: [alice], actions: [pull, push]}]}',
      '    "public/**": {policies: [{users: [alice], actions: [pull, push]}], anonymousPolicy: [pull]}',
    ]);
    [porthole, sandbox] = await Promise.all([startPorthole({ config, announcedIn: logFile }), ContainersSandbox.create()]);
  });

  after(() => stopSuite(porthole, sandbox, work));

  test('start-up says HTTPS, and that blob downloads are copied (no sendfile over TLS)', { timeout: TEST_TIMEOUT }, async () => {
    const lines = await logs();
    const listening = lines.find((line) => line.msg === 'porthole listening');
    assert.equal(listening?.scheme, 'https');
    assert.equal(listening?.blobDownloads, 'copy');
    const copied = lines.find((line) => line.msg === 'blob downloads are copied through user space');
    assert.match(String(copied?.reason), /http\.tls/);
  });

  test('skopeo pushes with alice\'s certificate in --dest-cert-dir and --dest-tls-verify=true; the access log names alice', { timeout: TEST_TIMEOUT }, async () => {
    for (const repository of ['team/app', 'public/app']) {
      await sandbox.skopeo(['copy', '--quiet', '--dest-cert-dir', aliceDir, '--dest-tls-verify=true', source(), ref(repository)], TEST_TIMEOUT);
    }
    const inspected = await sandbox.skopeo(['inspect', '--cert-dir', aliceDir, '--tls-verify=true', ref('team/app')]);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);
    await waitFor('the access line of the manifest PUT', async () => (await accessLinesOf(logFile)).some(isManifestPut('public/app')), 5_000);
    const puts = (await accessLinesOf(logFile)).filter((line) => line.method === 'PUT' && line.route === '/v2/:name/manifests/:reference');
    assert.deepEqual(
      puts.map((line) => [line.repo, line.status, line.user]),
      [
        ['team/app', 201, 'alice'],
        ['public/app', 201, 'alice'],
      ],
    );
  });

  test('skopeo with only the CA in --cert-dir pulls public/** anonymously; without the CA it fails on the certificate', { timeout: TEST_TIMEOUT }, async () => {
    const inspected = await sandbox.skopeo(['inspect', '--cert-dir', caOnly, '--tls-verify=true', ref('public/app')]);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);
    const refused = await sandbox.skopeo(['inspect', '--tls-verify=true', ref('public/app')]).then(
      () => assert.fail('skopeo trusted a certificate from a CA it was not given'),
      (err: unknown) => err as CommandError,
    );
    assert.ok(refused instanceof CommandError);
    assert.match(refused.result.stderr, /x509: certificate signed by unknown authority/);
  });

  test('podman pull with --cert-dir (the CA and alice\'s certificate) and --tls-verify=true', { timeout: 120_000 }, async (t) => {
    if (!requireTools(t, 'podman')) return;
    const store = await PodmanStore.create(sandbox);
    try {
      const reference = `${porthole.host}/team/app:v1`;
      const pulled = await store.podman(['pull', '--quiet', '--cert-dir', aliceDir, '--tls-verify=true', reference], 110_000);
      assert.equal(pulled.stdout.trim(), image.images[0]?.config.digest.slice('sha256:'.length), 'podman prints the image ID, the config digest');
    } finally {
      await store.dispose();
    }
  });

  // With client certificates the only way to log in, an anonymous request that needs one gets
  // 401 (a client that could present a certificate must learn that it should), not 403.
  test('without a client certificate a request is anonymous: public/** pulls, team/** is 401 UNAUTHORIZED', { timeout: TEST_TIMEOUT }, async () => {
    assert.equal((await httpsGet(porthole.port, '/v2/public/app/manifests/v1', trust())).status, 200);
    const refused = await httpsGet(porthole.port, '/v2/team/app/manifests/v1', trust());
    assert.equal(refused.status, 401, refused.body);
    assert.equal(refused.json().errors[0].code, 'UNAUTHORIZED');
  });

  test('an expired client certificate, or one from a foreign CA, is answered 401 UNAUTHORIZED, even where anonymous requests may pull', { timeout: TEST_TIMEOUT }, async () => {
    const { ca, expired, foreign } = certificates;
    for (const path of ['/v2/public/app/manifests/v1', '/v2/team/app/manifests/v1']) {
      const withExpired = await curl(url(path), ['--cacert', ca.certificate, '--cert', expired.certificate, '--key', expired.key]);
      assert.equal(withExpired.status, 401, withExpired.body);
      assert.deepEqual(JSON.parse(withExpired.body).errors.map((e: { code: string }) => e.code), ['UNAUTHORIZED']);
      assert.match(withExpired.body, /CERT_HAS_EXPIRED/);
      const withForeign = await httpsGet(porthole.port, path, trust(foreign));
      assert.equal(withForeign.status, 401, withForeign.body);
      assert.equal(withForeign.json().errors[0].code, 'UNAUTHORIZED');
    }
    // alice's own certificate works with curl too.
    const withAlice = await curl(url('/v2/team/app/manifests/v1'), ['--cacert', ca.certificate, '--cert', certificates.alice.certificate, '--key', certificates.alice.key]);
    assert.equal(withAlice.status, 200, withAlice.body);
  });

  test('a verified certificate without a CN is the user its first DNS subjectAltName names', { timeout: TEST_TIMEOUT }, async () => {
    // Not alice: authenticated (so 403, not 401), and refused by name.
    const refused = await httpsGet(porthole.port, '/v2/team/app/manifests/v1', trust(certificates.robot));
    assert.equal(refused.status, 403, refused.body);
    assert.equal(refused.json().errors[0].code, 'DENIED');
    assert.match(refused.json().errors[0].message, /not allowed for robot\.example$/);
    assert.equal((await httpsGet(porthole.port, '/v2/public/app/manifests/v1', trust(certificates.robot))).status, 200);
  });

  test('/metrics: the server certificate\'s expiry, and the remaining lifetime of client certificates', { timeout: TEST_TIMEOUT }, async () => {
    const metrics = new Exposition((await httpsGet(porthole.port, '/metrics', trust(certificates.alice))).body);
    assert.equal(metrics.types.get('porthole_tls_certificate_expiry_timestamp_seconds'), 'gauge');
    assert.equal(metrics.value('porthole_tls_certificate_expiry_timestamp_seconds', { file: files.certificate }), notAfterOf(await readFile(files.certificate)));
    const name = 'porthole_tls_client_certificate_expiration_seconds';
    assert.equal(metrics.types.get(name), 'histogram');
    const count = metrics.value(`${name}_count`) ?? 0;
    assert.ok(count >= 3, `client certificates seen on several connections: ${count}`);
    // The expired ones count as 0; alice's (30 days) lands in the 30-day bucket, not below a week.
    assert.ok((metrics.value(`${name}_bucket`, { le: '0' }) ?? 0) >= 1, 'the expired certificate is in the 0 bucket');
    const week = metrics.value(`${name}_bucket`, { le: '604800' }) ?? 0;
    const month = metrics.value(`${name}_bucket`, { le: '2592000' }) ?? 0;
    assert.ok(month > week, `alice's certificate between a week and 30 days: ${week} / ${month}`);
  });

  test('a renewed certificate is served to new connections, without restart and without dropping open ones; a bad pair keeps the last good one', { timeout: TEST_TIMEOUT }, async () => {
    const { ca, renewedSameKey, renewedNewKey } = certificates;
    const original = await servedCertificate(porthole.port, ca.certificate);
    // A keep-alive connection opened before the renewal.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await httpsGet(porthole.port, '/v2/', trust(certificates.alice), agent);
      assert.equal(first.status, 200);

      // 1. The certificate file replaced (same key): picked up by the file watch.
      await replaceFile(renewedSameKey.certificate, files.certificate);
      const renewedSerial = new X509Certificate(await readFile(renewedSameKey.certificate)).serialNumber;
      await waitFor('the renewed certificate on a new connection', async () => (await servedCertificate(porthole.port, ca.certificate)).serialNumber === renewedSerial, 10_000);
      const again = await httpsGet(porthole.port, '/v2/', trust(certificates.alice), agent);
      assert.equal(again.status, 200);
      assert.equal(again.socket, first.socket, 'the keep-alive connection was kept');
      assert.equal(again.peer.serialNumber, original.serialNumber, 'an open connection keeps the certificate it was opened with');

      // 2. A key that is not the certificate's: an error in the log, the renewed certificate stays.
      await replaceFile(renewedNewKey.key, files.key);
      await waitFor('the refused reload in the log', async () => (await logs()).some((line) => line.msg.startsWith('TLS certificate could not be re-read')), 10_000);
      const refused = (await logs()).find((line) => line.msg.startsWith('TLS certificate could not be re-read'));
      assert.equal(refused?.level, 'error');
      assert.match(String(refused?.problem), /http\.tls\.key/);
      assert.equal((await servedCertificate(porthole.port, ca.certificate)).serialNumber, renewedSerial);

      // 3. Its certificate written too, then SIGHUP: the new pair is loaded at once.
      await writeFile(files.certificate, await readFile(renewedNewKey.certificate));
      porthole.process.kill('SIGHUP');
      const rekeyedSerial = new X509Certificate(await readFile(renewedNewKey.certificate)).serialNumber;
      await waitFor('the re-keyed certificate on a new connection', async () => (await servedCertificate(porthole.port, ca.certificate)).serialNumber === rekeyedSerial, 10_000);
      await waitFor('the SIGHUP reload in the log', async () => (await logs()).some((line) => line.msg === 'TLS certificate loaded' && line.reason === 'SIGHUP'), 5_000);
      const metrics = new Exposition((await httpsGet(porthole.port, '/metrics', trust(certificates.alice))).body);
      assert.equal(metrics.value('porthole_tls_certificate_expiry_timestamp_seconds', { file: files.certificate }), notAfterOf(await readFile(renewedNewKey.certificate)));
      assert.equal(porthole.process.exitCode, null, 'porthole is still running');
      assert.equal((await httpsGet(porthole.port, '/v2/team/app/manifests/v1', trust(certificates.alice))).status, 200);
    } finally {
      agent.destroy();
    }
  });
});

describe('HTTPS with required client certificates', { skip: skipUnlessTools('openssl', 'skopeo', 'curl'), timeout: 120_000 }, () => {
  let work: string;
  let logFile: string;
  let porthole: PortholeProcess;
  let sandbox: ContainersSandbox;

  before(async () => {
    work = await tempDir('tls-required');
    logFile = join(work, 'porthole.log');
    const files = await serverFiles(work);
    const config = mutualTlsConfig(files, logFile, { clientAuth: 'required', minVersion: 'TLSv1.3' });
    [porthole, sandbox] = await Promise.all([startPorthole({ config, announcedIn: logFile }), ContainersSandbox.create()]);
  });

  after(() => stopSuite(porthole, sandbox, work));

  test('without a client certificate the TLS handshake fails: curl and skopeo are refused', { timeout: TEST_TIMEOUT }, async () => {
    const url = `https://${porthole.host}/v2/`;
    const byCurl = await curl(url, ['--cacert', certificates.ca.certificate]).then(
      (answer) => assert.fail(`curl got an answer without a client certificate: ${answer.status} ${answer.body}`),
      (err: unknown) => err as CommandError,
    );
    assert.ok(byCurl instanceof CommandError);
    assert.match(byCurl.result.stderr, /certificate required|alert|handshake/i);
    const caOnly = await certDir(join(work, 'certs-ca'), certificates.ca);
    const bySkopeo = await sandbox.skopeo(['inspect', '--cert-dir', caOnly, '--tls-verify=true', `docker://${porthole.host}/team/app:v1`]).then(
      () => assert.fail('skopeo got in without a client certificate'),
      (err: unknown) => err as CommandError,
    );
    assert.match(bySkopeo.result.stderr, /certificate required|bad certificate|handshake/i);
    // Nothing reached the API: no request was logged.
    assert.deepEqual(await accessLinesOf(logFile), []);
  });

  test('with alice\'s certificate in --cert-dir skopeo pushes and inspects, and the access log names alice', { timeout: TEST_TIMEOUT }, async () => {
    const aliceDir = await certDir(join(work, 'certs-alice'), certificates.ca, certificates.alice);
    const ref = `docker://${porthole.host}/team/app:v1`;
    await sandbox.skopeo(['copy', '--quiet', '--dest-cert-dir', aliceDir, '--dest-tls-verify=true', `oci:${image.dir}:${image.tag}`, ref], TEST_TIMEOUT);
    const inspected = await sandbox.skopeo(['inspect', '--cert-dir', aliceDir, '--tls-verify=true', ref]);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);
    await waitFor('the access line of the manifest PUT', async () => (await accessLinesOf(logFile)).some(isManifestPut('team/app')), 5_000);
    const lines = await accessLinesOf(logFile);
    assert.ok(lines.length > 3);
    assert.deepEqual([...new Set(lines.map((line) => line.user))], ['alice'], 'every request is alice\'s');
  });
});

describe('TLS configurations that cannot be served', { skip: skipUnlessTools('openssl'), timeout: 60_000 }, () => {
  let work: string;

  before(async () => {
    work = await tempDir('tls-bad');
  });

  after(async () => {
    await cleanup(work);
  });

  async function configFile(name: string, tls: string[]): Promise<string> {
    const file = join(work, `${name}.yaml`);
    await writeFile(file, ['http:', '  tls:', ...tls.map((line) => `    ${line}`), ''].join('\n'));
    return file;
  }

  test('a key that is not the certificate\'s: serve exits 2 naming http.tls.key, and verify says the same', { timeout: TEST_TIMEOUT }, async () => {
    const file = await configFile('mismatch', [`certificate: ${JSON.stringify(certificates.server.certificate)}`, `key: ${JSON.stringify(certificates.alice.key)}`]);
    const served = await runCli(['serve', '--config', file, '--port', '0', '--root', join(work, 'root')]);
    assert.equal(served.code, 2, served.stderr);
    assert.match(served.stderr, /http\.tls\.key: .*is not the private key of the certificate/);
    const verified = await runCli(['verify', file]);
    assert.equal(verified.code, 2, verified.stderr);
    assert.match(verified.stderr, /http\.tls\.key: /);
  });

  test('an unreadable certificate and clientAuth without clientCA are config errors naming their keys', { timeout: TEST_TIMEOUT }, async () => {
    const missing = await configFile('missing', [`certificate: ${JSON.stringify(join(work, 'nowhere.crt'))}`, `key: ${JSON.stringify(certificates.server.key)}`]);
    const verified = await runCli(['verify', missing]);
    assert.equal(verified.code, 2);
    assert.match(verified.stderr, /http\.tls\.certificate: cannot read ".*nowhere\.crt" \(ENOENT\)/);
    const noCa = await configFile('no-ca', [`certificate: ${JSON.stringify(certificates.server.certificate)}`, `key: ${JSON.stringify(certificates.server.key)}`, 'clientAuth: required']);
    const served = await runCli(['serve', '--config', noCa, '--port', '0', '--root', join(work, 'root')]);
    assert.equal(served.code, 2);
    assert.match(served.stderr, /http\.tls\.clientAuth: needs http\.tls\.clientCA/);
    const good = await configFile('good', [`certificate: ${JSON.stringify(certificates.server.certificate)}`, `key: ${JSON.stringify(certificates.server.key)}`]);
    assert.deepEqual(await runCli(['verify', good]).then((result) => [result.code, result.stdout]), [0, 'ok\n']);
  });
});
