import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { layoutRoot } from '../fixtures/oci-layout-reader.js';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { PodmanStore } from '../e2e/podman-store.js';
import { runCommand } from '../e2e/run-command.js';
import { freePort } from '../helpers/free-port.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessRoot, skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { readContainerfile, withArgs, type ContainerfileFacts } from '../helpers/containerfile.js';
import { makeNodeStandIns } from './node-stand-in.js';

// The image built from the Containerfile and run for real, with podman as root (there is no
// Docker engine here): built on local stand-ins for the official Node images (node-stand-in.ts),
// then pushed to and pulled from, scraped, health-checked, stopped, restarted on its volume, and
// made to host itself. Kubernetes and compose cannot run here: test/deploy checks their files.

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const IMAGE = 'localhost/porthole:test';
/** The target for what the image adds to its base. */
const MAX_MB_OVER_BASE = 60;
const STEP_MS = 120_000;

const skip = skipUnlessTools('podman', 'skopeo', 'debootstrap', 'runc', 'tar') || skipUnlessRoot('building and running containers with podman');

interface ImageInspect {
  Id: string;
  Size: number;
  /** podman keeps it beside Config, where docker has it inside. */
  Healthcheck?: { Test?: string[] };
  Config: {
    User?: string;
    Labels?: Record<string, string>;
    ExposedPorts?: Record<string, unknown>;
    Volumes?: Record<string, unknown>;
    StopSignal?: string;
    Cmd?: string[];
  };
}

describe('the container image', { skip, timeout: 30 * 60_000 }, () => {
  let sandbox: ContainersSandbox;
  let store: PodmanStore;
  let work: string;
  let facts: ContainerfileFacts;
  let fixture: LayoutDescription;
  let base: string;
  const buildArgs: Record<string, string> = {};
  const ports = { registry: 0, metrics: 0, exporter: 0 };
  const containers: string[] = [];

  const podman = (args: string[], timeoutMs = STEP_MS) => store.podman(args, timeoutMs);
  const inspect = async (image: string): Promise<ImageInspect> => (JSON.parse((await podman(['image', 'inspect', image])).stdout) as ImageInspect[])[0] as ImageInspect;
  const registry = () => `127.0.0.1:${ports.registry}`;

  /** Starts porthole's image on the host's network and the named volume, its ports set through PORTHOLE_* variables. */
  async function runPorthole(name: string, extraEnv: string[] = []): Promise<void> {
    containers.push(name);
    const env = [`PORTHOLE_HTTP_PORT=${ports.registry}`, `PORTHOLE_EXTENSIONS_METRICS_PORT=${ports.metrics}`, ...extraEnv].flatMap((pair) => ['--env', pair]);
    await podman(['run', '--detach', '--name', name, '--network', 'host', '--volume', 'porthole-data:/var/lib/porthole', ...env, IMAGE]);
    await waitFor(`porthole in container ${name} to answer /v2/`, async () => (await fetch(`http://${registry()}/v2/`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined))?.status === 200, 60_000);
  }

  before(async () => {
    work = await tempDir('container-image');
    sandbox = await ContainersSandbox.create();
    store = await PodmanStore.create(sandbox, { runContainers: true });
    facts = await readContainerfile(join(REPO_ROOT, 'Containerfile'));
    const nodeMajor = process.versions.node.split('.')[0] as string;
    const bases = facts.bases.map((image) => withArgs(image, { ...facts.globalArgs, NODE_MAJOR: nodeMajor }));
    base = `docker.io/library/${bases[bases.length - 1]}`;
    await makeNodeStandIns(store, bases, work);

    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const revision = await runCommand('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD']).then((r) => r.stdout.trim(), () => 'unknown');
    Object.assign(buildArgs, { NODE_MAJOR: nodeMajor, VERSION: version, REVISION: revision, CREATED: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), SOURCE: 'https://example.invalid/porthole' });
    // npm's cache, lent to the build: its npm ci then downloads nothing this machine's did not.
    const npmCache = (await runCommand('npm', ['config', 'get', 'cache'])).stdout.trim();
    const cacheMount = existsSync(npmCache) ? ['--volume', `${npmCache}:/root/.npm`] : [];
    // --format docker: the OCI image format has no health check, and podman would drop it.
    await podman(
      ['build', '--pull=never', '--network', 'host', '--layers=false', '--format', 'docker', ...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), ...cacheMount, '--file', join(REPO_ROOT, 'Containerfile'), '--tag', IMAGE, REPO_ROOT],
      15 * 60_000,
    );
    fixture = await buildOciLayout({ dir: join(work, 'fixture'), tag: 'v1', seed: 'container-image', layers: 2, fileBytes: 256 * 1024 });
    [ports.registry, ports.metrics, ports.exporter] = [await freePort(), await freePort(), await freePort()];
    await podman(['volume', 'create', 'porthole-data']);
  });

  after(async () => {
    for (const name of containers) await store?.podman(['rm', '--force', '--time', '5', name], 60_000).catch(() => undefined);
    await store?.dispose();
    await sandbox?.dispose();
    if (work) await cleanup(work);
  });

  test('carries the OCI labels from its build arguments, a non-root user, its ports, volume, health check and stop signal', async () => {
    const { Config: config, Healthcheck: healthcheck } = await inspect(IMAGE);
    const labels = config.Labels ?? {};
    assert.equal(labels['org.opencontainers.image.version'], buildArgs.VERSION);
    assert.equal(labels['org.opencontainers.image.revision'], buildArgs.REVISION);
    assert.equal(labels['org.opencontainers.image.created'], buildArgs.CREATED);
    assert.equal(labels['org.opencontainers.image.source'], buildArgs.SOURCE);
    assert.equal(config.User, facts.user);
    assert.notEqual(config.User?.split(':')[0], '0');
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}).sort(), facts.exposedPorts.map((port) => `${port}/tcp`).sort());
    assert.deepEqual(Object.keys(config.Volumes ?? {}), facts.volumes);
    assert.deepEqual(healthcheck?.Test, ['CMD', 'porthole', 'health']);
    assert.equal(config.StopSignal, 'SIGTERM');
  });

  test('serves a push and a pull, its metrics and its health check, as a user other than root, with sendfile', async () => {
    await runPorthole('porthole-1');
    await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${fixture.dir}:v1`, `docker://${registry()}/test/image:v1`]);
    const out = join(work, 'pulled');
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${registry()}/test/image:v1`, `oci:${out}:v1`]);
    assert.equal((await layoutRoot(out, 'v1')).digest, fixture.root.digest, 'the image came back byte for byte');

    const metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    assert.match(metrics, new RegExp(`^porthole_info\\{[^}]*commit="${buildArgs.REVISION}"[^}]*\\} 1$`, 'm'), 'the build argument REVISION is the commit porthole reports');
    assert.match(metrics, /^porthole_http_requests_total\{[^}]*method="PUT"[^}]*route="\/v2\/:name\/manifests\/:reference"[^}]*\} [1-9]/m);

    await podman(['healthcheck', 'run', 'porthole-1']);
    assert.equal((await podman(['inspect', '--format', '{{.State.Health.Status}}', 'porthole-1'])).stdout.trim(), 'healthy');

    // The server itself (PID 1 of the container), not only what `exec` starts, is not root.
    const status = (await podman(['exec', 'porthole-1', 'cat', '/proc/1/status'])).stdout;
    const uid = facts.user.split(':')[0];
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    const logs = (await podman(['logs', 'porthole-1'])).stdout;
    assert.match(logs, /"blobDownloads":"sendfile".*"msg":"porthole listening"/, 'the kernel-io addon was built into the image and loads');
  });

  test('runs porthole-exporter and porthole-bench from the same image against it', async () => {
    containers.push('exporter');
    await podman(['run', '--detach', '--name', 'exporter', '--network', 'host', IMAGE, 'porthole-exporter', 'api', '--connection-string', `http://${registry()}`, '--enable-tls=false', '--port', String(ports.exporter)]);
    let text = '';
    await waitFor('porthole-exporter api to report the registry', async () => {
      text = await (await fetch(`http://127.0.0.1:${ports.exporter}/metrics`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined))?.text() ?? '';
      return /^oci_registry_up 1$/m.test(text);
    }, 60_000);
    assert.match(text, /^oci_registry_repositories 1$/m);
    assert.match(text, /^oci_registry_repository_tags\{repository="test\/image"\} 1$/m);
    await podman(['rm', '--force', '--time', '5', 'exporter']);

    const bench = await podman(['run', '--rm', '--network', 'host', IMAGE, 'porthole-bench', `http://${registry()}`, '-n', '3', '-t', '^(Get Catalog|Push Monolith 1MB)$', '-o', 'json', '-d', '/tmp/bench']);
    const report = JSON.parse(bench.stdout) as { runs: Array<{ tests: Array<{ name: string; outcome: string }> }> };
    assert.deepEqual(report.runs[0]?.tests.map((run) => [run.name, run.outcome]), [['Get Catalog', 'completed'], ['Push Monolith 1MB', 'completed']]);
  });

  test('stops cleanly on SIGTERM, within its shutdown timeout', async () => {
    const started = Date.now();
    await podman(['stop', '--time', '40', 'porthole-1']);
    assert.ok(Date.now() - started < 30_000, 'stopped before SIGKILL would have been needed');
    assert.equal((await podman(['inspect', '--format', '{{.State.ExitCode}}', 'porthole-1'])).stdout.trim(), '0');
    assert.match((await podman(['logs', 'porthole-1'])).stdout, /"signal":"SIGTERM".*\n.*"msg":"porthole stopped"/);
  });

  test('finds its content again when started anew on the same volume', async () => {
    await runPorthole('porthole-2');
    const out = join(work, 'after-restart');
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${registry()}/test/image:v1`, `oci:${out}:v1`]);
    assert.equal((await layoutRoot(out, 'v1')).digest, fixture.root.digest);
  });

  test('hosts its own image: porthole pushed into porthole with skopeo and pulled back runs', async () => {
    const built = await inspect(IMAGE);
    await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `${store.transport}${IMAGE}`, `docker://${registry()}/porthole/porthole:test`], STEP_MS);
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${registry()}/porthole/porthole:test`, `${store.transport}localhost/porthole:from-porthole`], STEP_MS);
    assert.equal((await inspect('localhost/porthole:from-porthole')).Id, built.Id, 'the same image (config digest) came back');
    const version = (await podman(['run', '--rm', '--network', 'host', 'localhost/porthole:from-porthole', 'porthole', '--version'])).stdout;
    assert.match(version, new RegExp(`^porthole ${buildArgs.VERSION} \\(commit ${buildArgs.REVISION}, node v`));
  });

  test(`adds at most ${MAX_MB_OVER_BASE} MB to its base image`, async (t) => {
    const [image, baseImage] = [await inspect(IMAGE), await inspect(base)];
    const overMb = (image.Size - baseImage.Size) / 1e6;
    t.diagnostic(`image ${(image.Size / 1e6).toFixed(1)} MB, base (${base}, a stand-in) ${(baseImage.Size / 1e6).toFixed(1)} MB: ${overMb.toFixed(1)} MB over the base`);
    assert.ok(overMb <= MAX_MB_OVER_BASE, `${overMb.toFixed(1)} MB over the base image`);
  });
});
