import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReplicaRecord, SummaryResponse } from '../../src/management/api-types.js';
import { startApiExporter, type ApiExporterProcess } from '../helpers/api-exporter-process.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import type { Exposition } from '../helpers/prometheus-text.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { OpensslCa, type KeyPair } from '../tls/openssl-ca.js';
import { assertExportedFigures } from './exporter-figures.js';
import { pushImageManifest, RegistryContent } from './registry-content.js';

/**
 * porthole-exporter's API mode against porthole itself, locked down: HTTPS with a client CA and
 * client certificates required, htpasswd users and an admin policy (only admins and metrics
 * readers may read /api/v1). The exporter is given the CA, the admin's client certificate and
 * password. Its figures of porthole's management API are compared with what the test put in
 * (content, garbage, an upload in progress, a request held in flight) and with the job runs it
 * started with the porthole CLI beside the server, and its replica figures with the process.
 */

const PASSWORDS = { admin: 'admin-pass-123', dev: 'dev-pass-456' };
const HEARTBEAT = '1s';
const ARGS = ['--interval', '1s', '--timeout', '10s'];

interface Tls {
  ca: string;
  client: KeyPair;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to porthole over HTTPS as the admin: its client certificate and its password. */
function adminRequest(port: number, tls: Tls, method: string, path: string, body?: Buffer, headers: Record<string, string | number> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: readFileSync(tls.ca),
        cert: readFileSync(tls.client.certificate),
        key: readFileSync(tls.client.key),
        agent: false,
        headers: { ...basicHeaders('admin', PASSWORDS.admin), 'content-length': body?.length ?? 0, ...headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
        response.on('error', reject);
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

describe('porthole-exporter api: porthole with TLS client certificates, htpasswd and an admin policy', { timeout: 180_000, skip: skipUnlessTools('openssl', 'htpasswd', 'promtool') }, () => {
  let work: string;
  let root: string;
  let tls: Tls;
  let porthole: PortholeProcess;
  let exporter: ApiExporterProcess;
  let cliConfig: string;
  const content = new RegistryContent();
  /** Sizes of what the test stored, by digest: configs, layers and an orphan blob (not manifests). */
  const blobSizes = new Map<string, number>();
  const manifestSizes = new Map<string, number>();
  let garbage = 0;

  const api = async <T>(path: string): Promise<T> => {
    const answer = await adminRequest(porthole.port, tls, 'GET', path);
    assert.equal(answer.status, 200, `${path}: ${answer.body}`);
    return JSON.parse(answer.body) as T;
  };

  before(async () => {
    work = await tempDir('api-porthole');
    const ca = await OpensslCa.create(join(work, 'ca'), 'api-porthole-ca');
    const server = await ca.issue('server', { cn: '127.0.0.1', usage: 'server', san: ['IP:127.0.0.1'], days: 30 });
    const client = await ca.issue('admin', { cn: 'admin', usage: 'client', days: 30 });
    tls = { ca: ca.certificate, client };
    const htpasswd = join(work, 'htpasswd');
    await addHtpasswdUsers(htpasswd, PASSWORDS, { create: true });

    // The content goes in through a plain porthole on the same storage, before the locked-down one starts.
    root = await tempDir('api-porthole-root');
    const loader = await startPorthole({ root });
    try {
      const push = async (repository: string, reference: string | undefined, layers: Buffer[]): Promise<string> => {
        const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(6).toString('hex') }));
        const digest = await pushImageManifest(loader.url, content, {
          repository,
          ...(reference === undefined ? {} : { reference }),
          mediaType: OCI_MANIFEST,
          kind: 'image',
          blobs: [{ mediaType: OCI_CONFIG, data: config }, ...layers.map((data) => ({ mediaType: OCI_LAYER, data }))],
        });
        const known = content.manifests.get(digest);
        assert.ok(known);
        manifestSizes.set(digest, known.size);
        for (const blob of known.blobs) blobSizes.set(blob.digest, blob.size);
        return digest;
      };
      const shared = randomBytes(20_000);
      await push('team/app', 'v1', [shared]);
      await push('team/web', 'v1', [randomBytes(10_000)]);
      await push('team/web', 'v2', [shared]);
      // Garbage for gc --untagged with no grace: an image pushed by digest only, and a blob no manifest uses.
      const untagged = await push('team/app', undefined, [randomBytes(30_000)]);
      const untaggedManifest = content.manifests.get(untagged);
      assert.ok(untaggedManifest);
      const orphan = randomBytes(5_000);
      blobSizes.set(await pushBlob(loader.url, 'team/web', orphan), orphan.length);
      garbage = untaggedManifest.size + untaggedManifest.blobs.reduce((sum, blob) => sum + blob.size, 0) + orphan.length;
    } finally {
      await loader.stop();
    }

    const config = [
      'http:',
      `  tls: { certificate: ${JSON.stringify(server.certificate)}, key: ${JSON.stringify(server.key)}, clientCA: ${JSON.stringify(ca.certificate)}, clientAuth: required }`,
      `auth: { htpasswd: { path: ${JSON.stringify(htpasswd)} } }`,
      'accessControl:',
      "  repositories: { '**': { policies: [{ users: [dev], actions: [pull] }] } }",
      '  adminPolicy: { users: [admin], actions: [pull, push, delete] }',
      `storage: { heartbeatInterval: ${HEARTBEAT} }`,
      'extensions: { metrics: { reportingInterval: 300ms } }',
      "jobs: { gc: { grace: 0s, untagged: true } }",
      '',
    ].join('\n');
    porthole = await startPorthole({ root, config });
    cliConfig = join(work, 'cli.yaml');
    await writeFile(cliConfig, `storage: { rootDirectory: ${JSON.stringify(root)} }\njobs: { gc: { grace: 0s, untagged: true } }\n`);
    exporter = await startApiExporter({
      connectionString: `https://127.0.0.1:${porthole.port}`,
      args: [...ARGS, '--ca', tls.ca, '--cert', client.certificate, '--key', client.key, '--username', 'admin', '--password', PASSWORDS.admin],
    });
  });

  after(async () => {
    await exporter?.dispose();
    await porthole?.stop();
    await cleanup(...[work, root].filter((dir): dir is string => dir !== undefined));
  });

  /** What the storage holds by the test's own count: distinct blobs (not manifests), and every byte. */
  function storedFigures(blobs: Iterable<string>, manifests: Iterable<string>): { blobs: number; bytes: number } {
    const blobList = [...new Set(blobs)];
    const manifestList = [...new Set(manifests)];
    const bytes = blobList.reduce((sum, digest) => sum + (blobSizes.get(digest) as number), 0) + manifestList.reduce((sum, digest) => sum + (manifestSizes.get(digest) as number), 0);
    return { blobs: blobList.length, bytes };
  }

  function summaryFigures(exposition: Exposition): Record<string, number | undefined> {
    return {
      repositories: exposition.value('oci_registry_repositories'),
      blobs: exposition.value('oci_registry_blobs'),
      storedBytes: exposition.value('oci_registry_stored_bytes'),
      garbageBytes: exposition.value('oci_registry_garbage_bytes'),
      uploads: exposition.value('oci_registry_uploads_in_progress'),
    };
  }

  async function assertSummaryFigures(want: Record<string, number>, what: string): Promise<Exposition> {
    let last: Exposition | undefined;
    try {
      return await exporter.scrapeUntil(
        what,
        (exposition) => {
          last = exposition;
          return JSON.stringify(summaryFigures(exposition)) === JSON.stringify(want);
        },
        20_000,
      );
    } catch (err) {
      if (last) assert.deepEqual(summaryFigures(last), want, what);
      throw err;
    }
  }

  it('exports the OCI figures of what the test pushed, through TLS, client certificate and login', async () => {
    const expected = content.expected();
    assert.deepEqual({ repositories: expected.repositories, tags: expected.tags }, { repositories: 2, tags: 3 });
    const exposition = await assertExportedFigures(exporter, expected);
    for (const step of ['ping', 'manifest', 'blob']) assert.equal(exposition.value('oci_registry_probe_success', { step }), 1, `probe ${step}`);
    assert.deepEqual(await promtoolCheckMetrics(exposition.text), { code: 0, stdout: '', stderr: '' });
  });

  it("summary figures: repositories, blobs, bytes stored and garbage are the test's own count", async () => {
    const all = storedFigures(blobSizes.keys(), manifestSizes.keys());
    // Three tagged images' configs, the layer two of them share, team/web's own layer, the untagged image's config and layer, the orphan.
    assert.equal(all.blobs, 8);
    await assertSummaryFigures({ repositories: 2, blobs: all.blobs, storedBytes: all.bytes, garbageBytes: garbage, uploads: 0 }, 'the summary before gc');
  });

  it('an upload in progress and a request held in flight show, and go', async () => {
    const started = await adminRequest(porthole.port, tls, 'POST', '/v2/team/web/blobs/uploads/');
    assert.equal(started.status, 202, started.body);
    const location = started.headers.location;
    assert.ok(typeof location === 'string');
    const { replicaId } = await api<SummaryResponse>('/api/v1/summary');
    // A PATCH that sends 1 KiB of the 1 MB it declares, and waits: a request in flight until it is cut.
    const held = httpsRequest({
      host: '127.0.0.1',
      port: porthole.port,
      method: 'PATCH',
      path: location,
      ca: readFileSync(tls.ca),
      cert: readFileSync(tls.client.certificate),
      key: readFileSync(tls.client.key),
      agent: false,
      headers: { ...basicHeaders('admin', PASSWORDS.admin), 'content-type': 'application/octet-stream', 'content-length': 1_000_000 },
    });
    held.on('error', () => undefined);
    held.write(Buffer.alloc(1024));
    try {
      await exporter.scrapeUntil(
        'the upload and the held request in the exported figures',
        (exposition) => exposition.value('oci_registry_uploads_in_progress') === 1 && (exposition.value('oci_registry_replica_in_flight_requests', { replica: replicaId }) ?? 0) >= 1,
        20_000,
      );
    } finally {
      held.destroy();
    }
    await exporter.scrapeUntil('nothing in flight again', (exposition) => exposition.value('oci_registry_replica_in_flight_requests', { replica: replicaId }) === 0, 20_000);
    const cancelled = await adminRequest(porthole.port, tls, 'DELETE', location);
    assert.equal(cancelled.status, 204, cancelled.body);
    await exporter.scrapeUntil('no upload in progress', (exposition) => exposition.value('oci_registry_uploads_in_progress') === 0, 20_000);
  });

  it('job figures follow runs of the porthole CLI beside the server; gc frees exactly the garbage', async () => {
    const before = await exporter.scrape();
    assert.equal(before.sum('oci_registry_jobs'), 0, `no job has run yet:\n${before.find('oci_registry_jobs').map((s) => JSON.stringify(s)).join('\n')}`);

    const dryRun = await runCli(['gc', '--dry-run', '--config', cliConfig, '--log-level', 'warn']);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    const gcStarted = Date.now();
    const gc = await runCli(['gc', '--config', cliConfig, '--log-level', 'warn']);
    const gcEnded = Date.now();
    assert.equal(gc.code, 0, gc.stderr);
    const gcLine = JSON.parse(gc.stdout.trim().split('\n').at(-1) ?? '{}') as { outcome?: string; manifests?: number; bytes?: number };
    assert.deepEqual({ outcome: gcLine.outcome, manifests: gcLine.manifests, bytes: gcLine.bytes }, { outcome: 'success', manifests: 1, bytes: garbage }, gc.stdout);
    const scrub = await runCli(['scrub', '--config', cliConfig, '--log-level', 'warn']);
    assert.equal(scrub.code, 0, scrub.stderr);

    const jobs = (exposition: Exposition): Record<string, number> =>
      Object.fromEntries(
        exposition
          .find('oci_registry_jobs')
          .filter((s) => s.value !== 0)
          .map((s) => [`${s.labels.action} ${s.labels.status}`, s.value] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
    let last: Exposition | undefined;
    const want = { 'gc success': 2, 'scrub success': 1 };
    try {
      last = await exporter.scrapeUntil('the three runs in the job figures', (exposition) => JSON.stringify(jobs((last = exposition))) === JSON.stringify(want), 20_000);
    } catch (err) {
      if (last) assert.deepEqual(jobs(last), want);
      throw err;
    }
    const lastGc = last.value('oci_registry_job_last_run_timestamp_seconds', { action: 'gc' }) ?? 0;
    assert.ok(lastGc * 1000 >= gcStarted - 1000 && lastGc * 1000 <= gcEnded + 1000, `the last gc ran at ${new Date(lastGc * 1000).toISOString()}, between ${new Date(gcStarted).toISOString()} and ${new Date(gcEnded).toISOString()}`);
    assert.ok((last.value('oci_registry_job_last_run_timestamp_seconds', { action: 'scrub' }) ?? 0) * 1000 >= gcEnded - 1000, 'scrub ran after gc');

    // What gc removed is gone from the summary: the untagged image and the orphan blob.
    const kept = content.expected();
    const keptBlobs = [...content.tags.keys()].flatMap((repository) => [...content.reachable(repository).digests.keys()]).filter((digest) => blobSizes.has(digest));
    const keptManifests = [...content.tags.keys()].flatMap((repository) => [...content.reachable(repository).manifests]);
    const now = storedFigures(keptBlobs, keptManifests);
    assert.equal(now.blobs, 5);
    await assertSummaryFigures({ repositories: kept.repositories, blobs: now.blobs, storedBytes: now.bytes, garbageBytes: 0, uploads: 0 }, 'the summary after gc');
  });

  it('replica figures are the running process: one healthy replica, its id, version, heartbeat and uptime', async () => {
    const summary = await api<SummaryResponse>('/api/v1/summary');
    const { replicas } = await api<{ replicas: ReplicaRecord[] }>('/api/v1/replicas');
    assert.equal(replicas.length, 1);
    assert.equal(replicas[0]?.id, summary.replicaId);
    assert.equal(replicas[0]?.address, porthole.host);
    const exposition = await exporter.collections(1);
    assert.equal(exposition.value('oci_registry_replicas', { health: 'healthy' }), 1);
    assert.equal(exposition.sum('oci_registry_replicas') - 1, 0, 'no other replica, healthy or not');
    assert.deepEqual(exposition.byLabel('oci_registry_replica_healthy', 'replica'), { [summary.replicaId]: 1 });
    const age = exposition.value('oci_registry_replica_heartbeat_age_seconds', { replica: summary.replicaId }) ?? -1;
    // Heartbeats and collections every second: a recent one, whatever the phase.
    assert.ok(age >= 0 && age < 3, `heartbeat age ${age} s`);
    assert.ok(exposition.value('oci_registry_replica_in_flight_requests', { replica: summary.replicaId }) !== undefined);
    assert.deepEqual(
      exposition.find('oci_registry_target_info').map((s) => ({ labels: s.labels, value: s.value })),
      [{ labels: { version: summary.version, mode: 'hosted', replica: summary.replicaId }, value: 1 }],
    );
    const uptime = exposition.value('oci_registry_target_uptime_seconds') ?? -1;
    assert.ok(uptime >= 0 && Math.abs(uptime - summary.uptimeSeconds) <= 3, `uptime ${uptime} s; porthole says ${summary.uptimeSeconds} s`);
  });

  it('without the client certificate, or without the CA: oci_registry_up 0, still running', async () => {
    const url = `https://127.0.0.1:${porthole.port}`;
    const login = ['--username', 'admin', '--password', PASSWORDS.admin];
    const attempts = [
      { what: 'no client certificate', args: [...ARGS, '--ca', tls.ca, ...login] },
      { what: 'no CA (an unknown issuer)', args: [...ARGS, '--cert', tls.client.certificate, '--key', tls.client.key, ...login] },
    ];
    for (const attempt of attempts) {
      const refused = await startApiExporter({ connectionString: url, args: attempt.args });
      try {
        const exposition = await refused.collections(2, 20_000);
        assert.equal(exposition.value('oci_registry_up'), 0, attempt.what);
        assert.deepEqual(exposition.find('oci_registry_stored_bytes'), [], `${attempt.what}: nothing of porthole's`);
        assert.equal(refused.hasExited(), false);
      } finally {
        await refused.dispose();
      }
    }
  });
});
