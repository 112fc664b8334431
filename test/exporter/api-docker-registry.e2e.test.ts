import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { startApiExporter, type ApiExporterProcess } from '../helpers/api-exporter-process.js';
import { basicHeaders } from '../helpers/basic-auth.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus-process.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';
import { DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, pushManifest } from '../helpers/registry-client.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { assertExportedFigures, OTHER, withMaxRepositories } from './exporter-figures.js';
import { addLayout, layoutBlob, pushImageManifest, registryDigest, retag, RegistryContent } from './registry-content.js';

/**
 * porthole-exporter's API mode against the reference registry, Debian's docker-registry 2.8:
 * content copied in with skopeo (an image, a two-platform index) and with the test's own client
 * (Docker schema 2, artifacts, tags that share a digest, repositories that share layers and
 * manifests, an untagged manifest). Every exported figure is compared with what the test
 * computes from the bytes it pushed (registry-content.ts), never with what the registry says.
 */

const USER = { username: 'exporter', password: 'api-mode-s3cret' };
const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';
const INTERVAL = ['--interval', '2s', '--timeout', '10s', '--enable-tls=false'];

describe('porthole-exporter api: docker-registry', { timeout: 240_000, skip: skipUnlessTools('docker-registry', 'skopeo', 'htpasswd', 'promtool', 'prometheus') }, () => {
  let work: string;
  let sandbox: ContainersSandbox;
  let registry: DistributionProcess;
  let exporter: ApiExporterProcess;
  let limited: ApiExporterProcess;
  let prometheus: PrometheusProcess;
  const content = new RegistryContent();
  let single: LayoutDescription;

  async function skopeoCopy(layout: LayoutDescription, destination: string): Promise<void> {
    const all = layout.index ? ['--all'] : [];
    await sandbox.skopeo(['copy', '--quiet', ...all, '--dest-tls-verify=false', `oci:${layout.dir}:${layout.tag}`, `docker://${registry.host}/${destination}`]);
  }

  /** Pushes a copy of the single image's blobs and manifest to `repository` under `tag`, with the test's client. */
  async function copySingle(repository: string, tag: string): Promise<void> {
    const image = single.images[0];
    assert.ok(image);
    for (const blob of [image.config, ...image.layers]) await pushBlob(registry.url, repository, await layoutBlob(single, blob.digest), 'post-put');
    await pushManifest(registry.url, repository, tag, await layoutBlob(single, image.manifest.digest), OCI_MANIFEST);
    content.tag(repository, tag, image.manifest.digest);
  }

  before(async () => {
    work = await tempDir('api-docker-registry');
    sandbox = await ContainersSandbox.create();
    registry = await startDistribution();
    single = await buildOciLayout({ dir: join(work, 'single'), tag: 'v1', seed: 'api-single', layers: 2, filesPerLayer: 2, fileBytes: 16 * 1024 });
    const multi = await buildOciLayout({
      dir: join(work, 'multi'),
      tag: 'multi',
      seed: 'api-multi',
      fileBytes: 24 * 1024,
      platforms: [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
      ],
    });

    // team/app: one image under two tags (skopeo), an artifact, and an untagged image.
    const singleDigest = addLayout(content, single);
    await skopeoCopy(single, 'team/app:v1');
    await skopeoCopy(single, 'team/app:latest');
    content.tag('team/app', 'v1', singleDigest);
    content.tag('team/app', 'latest', singleDigest);
    await pushImageManifest(registry.url, content, {
      repository: 'team/app',
      reference: 'sbom',
      mediaType: OCI_MANIFEST,
      kind: 'artifact',
      extra: { artifactType: 'application/vnd.example.sbom.v1+json' },
      blobs: [
        { mediaType: EMPTY_CONFIG, data: Buffer.from('{}') },
        { mediaType: 'application/vnd.example.sbom.v1+json', data: Buffer.from(JSON.stringify({ sbom: randomBytes(300).toString('hex') })) },
      ],
    });
    await pushImageManifest(registry.url, content, {
      repository: 'team/app',
      mediaType: OCI_MANIFEST,
      kind: 'image',
      blobs: [
        { mediaType: OCI_CONFIG, data: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', untagged: true })) },
        { mediaType: OCI_LAYER, data: randomBytes(50_000) },
      ],
    });

    // team/multi: a two-platform index under two tags (skopeo --all).
    const multiDigest = addLayout(content, multi);
    await skopeoCopy(multi, 'team/multi:multi');
    await skopeoCopy(multi, 'team/multi:stable');
    content.tag('team/multi', 'multi', multiDigest);
    content.tag('team/multi', 'stable', multiDigest);

    // team/tools: Docker schema 2 under two tags, an OCI image sharing its layer, a Helm-style artifact.
    const sharedLayer = await layoutBlob(single, (single.images[0]?.layers[0] ?? assert.fail('no layer')).digest);
    const dockerDigest = await pushImageManifest(registry.url, content, {
      repository: 'team/tools',
      reference: '1.0',
      mediaType: DOCKER_MANIFEST,
      kind: 'image',
      blobs: [
        { mediaType: DOCKER_CONFIG, data: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })) },
        { mediaType: DOCKER_LAYER, data: sharedLayer },
      ],
    });
    await retag(registry.url, content, 'team/tools', dockerDigest, '1.1');
    await pushImageManifest(registry.url, content, {
      repository: 'team/tools',
      reference: '2.0',
      mediaType: OCI_MANIFEST,
      kind: 'image',
      blobs: [
        { mediaType: OCI_CONFIG, data: Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })) },
        { mediaType: OCI_LAYER, data: sharedLayer },
        { mediaType: OCI_LAYER, data: randomBytes(1_000) },
      ],
    });
    await pushImageManifest(registry.url, content, {
      repository: 'team/tools',
      reference: 'chart-0.1.0',
      mediaType: OCI_MANIFEST,
      kind: 'artifact',
      blobs: [
        { mediaType: 'application/vnd.cncf.helm.config.v1+json', data: Buffer.from(JSON.stringify({ name: 'tools', version: '0.1.0', apiVersion: 'v2' })) },
        { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', data: randomBytes(4_000) },
      ],
    });

    // library/small: a one-layer image, and team/app's image again (the same manifest in a second repository).
    await pushImageManifest(registry.url, content, {
      repository: 'library/small',
      reference: 'a',
      mediaType: OCI_MANIFEST,
      kind: 'image',
      blobs: [
        { mediaType: OCI_CONFIG, data: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', small: true })) },
        { mediaType: OCI_LAYER, data: randomBytes(3_000) },
      ],
    });
    await copySingle('library/small', 'copy');

    // What skopeo stored is what the layouts say (it copies OCI manifests byte for byte).
    assert.equal(await registryDigest(registry.url, 'team/app', 'latest'), singleDigest);
    assert.equal(await registryDigest(registry.url, 'team/multi', 'stable'), multiDigest);

    exporter = await startApiExporter({ connectionString: registry.url, args: INTERVAL });
    limited = await startApiExporter({ connectionString: registry.url, args: [...INTERVAL, '--max-repositories', '2'] });
    prometheus = await startPrometheus({ targets: [{ job: 'oci-api', target: `127.0.0.1:${exporter.port}` }] });
  });

  after(async () => {
    await prometheus?.dispose();
    await exporter?.dispose();
    await limited?.dispose();
    await registry?.dispose();
    await sandbox?.dispose();
    if (work) await cleanup(work);
  });

  it('exports the repositories, tags, sizes and manifest kinds the test pushed', async () => {
    const expected = content.expected();
    // The fixture is what it means to be: 4 repositories, 11 tags, 7 images, 1 index, 2 artifacts.
    assert.deepEqual({ repositories: expected.repositories, tags: expected.tags, manifests: expected.manifests }, { repositories: 4, tags: 11, manifests: { image: 7, index: 1, artifact: 2 } });
    const exposition = await assertExportedFigures(exporter, expected);
    assert.equal(exposition.value('oci_registry_up'), 1);
    assert.ok((exposition.value('oci_registry_collections_total', { outcome: 'success' }) ?? 0) >= 1, 'collections_total{outcome="success"}');
    const lastSuccess = exposition.value('oci_registry_last_success_timestamp_seconds') ?? 0;
    assert.ok(lastSuccess * 1000 <= Date.now() + 1000 && lastSuccess * 1000 > Date.now() - 60_000, `last success ${lastSuccess} is recent`);
    const duration = exposition.value('oci_registry_scrape_duration_seconds') ?? -1;
    assert.ok(duration > 0 && duration < 10, `scrape duration ${duration} s`);
    for (const step of ['ping', 'manifest', 'blob']) {
      assert.equal(exposition.value('oci_registry_probe_success', { step }), 1, `probe ${step} succeeded`);
      const seconds = exposition.value('oci_registry_probe_duration_seconds', { step }) ?? -1;
      assert.ok(seconds >= 0 && seconds < 10, `probe ${step} took ${seconds} s`);
    }
    // Nothing of porthole's management API on a registry that has none.
    assert.deepEqual(exposition.find('oci_registry_stored_bytes'), []);
    assert.deepEqual(exposition.find('oci_registry_target_info'), []);
  });

  it('with --max-repositories 2: the two largest repositories by size, the rest summed as _other', async () => {
    const expected = withMaxRepositories(content.expected(), 2);
    assert.deepEqual(Object.keys(expected.repositorySize).sort(), [OTHER, 'library/small', 'team/multi'].sort(), 'the fixture ranks as planned');
    await assertExportedFigures(limited, expected);
  });

  it('promtool check metrics passes on the output', async () => {
    await exporter.collections(1);
    for (const text of [await exporter.scrapeText(), await limited.scrapeText()]) {
      assert.deepEqual(await promtoolCheckMetrics(text), { code: 0, stdout: '', stderr: '' });
    }
  });

  it('a real Prometheus scrapes it: oci_registry_up 1 and the repository count', async () => {
    await exporter.collections(1);
    const since = Date.now();
    await prometheus.scrapedSince('oci-api', since, 30_000);
    const up = await prometheus.query('oci_registry_up{job="oci-api"}');
    assert.deepEqual(up.map((sample) => sample.value), [1]);
    const repositories = await prometheus.query('oci_registry_repositories{job="oci-api"}');
    assert.deepEqual(repositories.map((sample) => sample.value), [content.expected().repositories]);
    const scraped = await prometheus.query('up{job="oci-api"}');
    assert.deepEqual(scraped.map((sample) => sample.value), [1]);
  });

  it('behind htpasswd Basic auth: right with the login given by flags, by environment or by a config file; oci_registry_up 0 without', async () => {
    // A second docker-registry on the same storage, with auth: the same content, behind a login.
    const guarded = await startDistribution({ root: registry.root, basicAuth: USER });
    const exporters: ApiExporterProcess[] = [];
    const start = async (options: Parameters<typeof startApiExporter>[0]): Promise<ApiExporterProcess> => {
      const started = await startApiExporter(options);
      exporters.push(started);
      return started;
    };
    try {
      const refused = await fetch(`${guarded.url}/v2/_catalog`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(refused.status, 401, 'the guarded registry wants a login');
      const allowed = await fetch(`${guarded.url}/v2/_catalog`, { headers: basicHeaders(USER.username, USER.password), signal: AbortSignal.timeout(5_000) });
      assert.equal(allowed.status, 200);
      const configFile = join(work, 'exporter.yaml');
      await writeFile(
        configFile,
        [`connectionString: ${guarded.url}`, `username: ${USER.username}`, `password: ${USER.password}`, 'enableTls: false', 'interval: 2s', 'port: 0', 'listenAddress: 127.0.0.1', ''].join('\n'),
      );
      const logins = [
        await start({ connectionString: guarded.url, args: [...INTERVAL, '--username', USER.username, '--password', USER.password] }),
        await start({
          defaultListen: false,
          env: { CONNECTION_STRING: guarded.url, REGISTRY_USERNAME: USER.username, REGISTRY_PASSWORD: USER.password, ENABLE_TLS: 'false', INTERVAL: '2s', PORT: '0', LISTEN_ADDRESS: '127.0.0.1' },
        }),
        await start({ defaultListen: false, env: { CONFIG_FILE: configFile } }),
      ];
      const anonymous = await start({ connectionString: guarded.url, args: INTERVAL });
      const wrong = await start({ connectionString: guarded.url, args: [...INTERVAL, '--username', USER.username, '--password', 'not-the-password'] });
      for (const login of logins) await assertExportedFigures(login, content.expected());
      for (const refusedExporter of [anonymous, wrong]) {
        const exposition = await refusedExporter.collections(2);
        assert.equal(exposition.value('oci_registry_up'), 0, `up without the right login:\n${exposition.text.slice(0, 2000)}`);
        assert.equal(refusedExporter.hasExited(), false);
      }
    } finally {
      for (const started of exporters) await started.dispose();
      // Its root is the open registry's: dispose removes only its configuration.
      await guarded.dispose();
    }
  });

  it('follows changes: a new tag, and a tag moved to another manifest, show at the next collection', async () => {
    await assertExportedFigures(exporter, content.expected());
    await pushImageManifest(registry.url, content, {
      repository: 'library/small',
      reference: 'b',
      mediaType: OCI_MANIFEST,
      kind: 'image',
      blobs: [
        { mediaType: OCI_CONFIG, data: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', b: true })) },
        { mediaType: OCI_LAYER, data: randomBytes(7_000) },
      ],
    });
    // latest moves off the image v1 still names: team/app keeps that image and gains a new one.
    await pushImageManifest(registry.url, content, {
      repository: 'team/app',
      reference: 'latest',
      mediaType: OCI_MANIFEST,
      kind: 'image',
      blobs: [
        { mediaType: OCI_CONFIG, data: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rebuilt: true })) },
        { mediaType: OCI_LAYER, data: randomBytes(9_000) },
      ],
    });
    const expected = content.expected();
    assert.deepEqual({ tags: expected.tags, manifests: expected.manifests }, { tags: 12, manifests: { image: 9, index: 1, artifact: 2 } });
    await assertExportedFigures(exporter, expected);
  });
});
