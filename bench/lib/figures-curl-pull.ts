import { randomUUID } from 'node:crypto';
import type { ContainersSandbox } from '../../test/e2e/containers-sandbox.js';
import { runCommand } from '../../test/e2e/run-command.js';
import { raw } from '../../test/helpers/raw-http.js';
import { OCI_MANIFEST } from '../../test/helpers/registry-client.js';
import { ratioCheck, type AnchorCheck } from './anchor-check.js';
import type { Contender } from './contenders.js';
import { figureOf, sampleInTurn, type Figure } from './figure.js';
import { imageMebibytes, push, ServerCpu } from './figures-transfer.js';
import { buildImage } from './images.js';
import type { Column } from './report.js';
import type { BenchSettings } from './settings.js';
import type { StaticMirror } from './static-mirror.js';

/**
 * A pull by a client that is not the bottleneck (issue 20): GET the manifest, then every layer at
 * once, one `curl -s -o /dev/null` process each, bodies dropped: what is timed is the registry's
 * serving, not a client unpacking or writing layers (skopeo pull's figure is bound by skopeo).
 * The image is the 4-layer one of the push figure (images.ts), pushed with skopeo to porthole and
 * docker-registry; nginx (one worker) serves porthole's own files of it at the same paths, as the
 * floor of serving them.
 */
export type PullName = 'porthole' | 'distribution' | 'nginx-1';

export const PULL_COLUMNS: Array<Column<PullName>> = [
  { name: 'porthole', label: 'porthole' },
  { name: 'distribution', label: 'distribution' },
  { name: 'nginx-1', label: 'nginx, 1 worker (same files)' },
];

const REPO = 'bench/curl-pull';
const TAG = 'v1';

/** Bound of one curl: generous, a 50 MiB layer takes a fraction of a second on loopback. */
const CURL_TIMEOUT_MS = 120_000;

/** The manifest with curl, then its layers by as many curl processes at once; checks that every byte came. */
async function curlPull(url: string): Promise<void> {
  const { stdout } = await runCommand('curl', ['-sS', '--fail', '-H', `Accept: ${OCI_MANIFEST}`, `${url}/v2/${REPO}/manifests/${TAG}`], { timeoutMs: CURL_TIMEOUT_MS });
  const layers = (JSON.parse(stdout) as { layers: Array<{ digest: string; size: number }> }).layers;
  await Promise.all(
    layers.map(async ({ digest, size }) => {
      const got = await runCommand('curl', ['-s', '--fail', '-o', '/dev/null', '-w', '%{size_download}', `${url}/v2/${REPO}/blobs/${digest}`], { timeoutMs: CURL_TIMEOUT_MS });
      if (Number(got.stdout) !== size) throw new Error(`GET ${url} blob ${digest}: ${got.stdout} bytes of ${size}`);
    }),
  );
}

export interface CurlPullRun {
  figure: Figure<PullName>;
  checks: AnchorCheck[];
}

export async function curlPullFigures(
  contenders: Record<PullName, Contender<PullName>>,
  mirror: StaticMirror,
  sandbox: ContainersSandbox,
  dir: string,
  settings: BenchSettings,
): Promise<CurlPullRun> {
  const image = await buildImage(dir, 'curl-pull', randomUUID(), settings.pushImage);
  const size = imageMebibytes(image);
  console.error(`bench: anchors: pull of a ${size.toFixed(0)} MiB image with curl`);
  for (const name of ['porthole', 'distribution'] as const) await push(sandbox, contenders[name], image, REPO);
  // nginx serves porthole's copy: its manifest bytes, and its blob files themselves.
  const manifest = await raw(contenders.porthole.url, { path: `/v2/${REPO}/manifests/${TAG}`, headers: { accept: OCI_MANIFEST } });
  if (manifest.status !== 200) throw new Error(`GET the pushed manifest from porthole: ${manifest.status}`);
  const layers = (manifest.json() as { layers: Array<{ digest: string }> }).layers;
  await mirror.manifest(REPO, [TAG], manifest.body);
  for (const { digest } of layers) await mirror.blob(REPO, digest);

  const order = PULL_COLUMNS.map(({ name }) => contenders[name]);
  // One untimed pull each first: the first GETs of large blobs (JIT of the streaming path) ran slow.
  for (const contender of order) await curlPull(contender.url);
  const cpu = new ServerCpu<PullName>(PULL_COLUMNS.map(({ name }) => name));
  // Wall time from the manifest request to the last layer's end (after a sync, as every transfer sample).
  const samples = await sampleInTurn<PullName, Contender<PullName>>(settings.pairs, order, (contender) => cpu.timed(contender, () => curlPull(contender.url)));
  const layerCount = settings.pushImage.layers;
  const figure = figureOf(`pull of a ${size.toFixed(0)} MiB, ${layerCount}-layer image with curl (manifest, then ${layerCount} curl -o /dev/null at once)`, 's', 2, samples);
  figure.detail = `${cpu.text()} (porthole / distribution / nginx)`;
  const column = (name: PullName): { name: PullName; label: string } => ({ name, label: PULL_COLUMNS.find((c) => c.name === name)?.label ?? name });
  const checks = [ratioCheck(`pull of a ${size.toFixed(0)} MiB, ${layerCount}-layer image by curl (wall time)`, figure, column('porthole'), column('distribution'), 'at-most', 0.8)];
  return { figure, checks };
}
