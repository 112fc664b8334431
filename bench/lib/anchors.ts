import { randomBytes } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainersSandbox } from '../../test/e2e/containers-sandbox.js';
import { cleanup, tempDir } from '../../test/helpers/porthole-process.js';
import { OCI_MANIFEST } from '../../test/helpers/registry-client.js';
import type { AnchorCheck } from './anchor-check.js';
import { GET_REPO, loadGetFixtures } from './api-loading.js';
import { startContenders, startDefaultPorthole, staticContender, type Contender } from './contenders.js';
import { captureAnswers, startFastifyCeiling } from './fastify-ceiling.js';
import { getAnchorFigures, type GetAnchorName, type GetAnchorRun } from './figures-anchors-get.js';
import { curlPullFigures, type CurlPullRun } from './figures-curl-pull.js';
import { idleMemoryFigures, type IdleMemoryRun } from './figures-idle-memory.js';
import { ingestAnchorFigures, type IngestAnchorRun } from './figures-ingest-anchors.js';
import { logCostFigures, type LogCostRun } from './figures-log-cost.js';
import { startNginx } from './nginx.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';
import { StaticMirror } from './static-mirror.js';

/**
 * Group anchors (issue 20): porthole against what bounds it rather than against another registry.
 * The framework's ceiling (a bare Fastify server answering from memory) for manifests and HEAD;
 * nginx serving porthole's own blob files (one worker, and one per core) for blob GETs; the cost of
 * access lines and of metrics in server CPU per request; idle memory with every optional feature
 * off and all on; a pull by curl against docker-registry; a blob's ingest against the disk's
 * durable write rate and, on tmpfs, against one core's sha256. Each figure takes its contenders in
 * turn, medians reported, as the comparison does; the section is written apart (anchors-report.ts).
 */
export interface AnchorsRun {
  get: GetAnchorRun;
  pull: CurlPullRun;
  ingest: IngestAnchorRun;
  logCost: LogCostRun;
  memory: IdleMemoryRun;
  /** The table, in its order. */
  checks: AnchorCheck[];
}

type Track = (what: string, step: () => Promise<void>) => void;

export async function anchorsFigures(sandbox: ContainersSandbox, settings: BenchSettings, track: Track): Promise<AnchorsRun> {
  const dir = await tempDir('bench-anchors');
  track('remove the anchors\' files', () => cleanup(dir));
  // nginx's workers (as root: user nobody) must reach the mirror under this private temp dir.
  await chmod(dir, 0o755);
  const stopOnTeardown = (contender: Contender<string>): void => track(`stop ${contender.name}`, () => contender.dispose());

  const { porthole, distribution } = await startContenders(stopOnTeardown);
  const portholeDefault = await startDefaultPorthole(join(dir, 'access-default.log'));
  stopOnTeardown(portholeDefault);
  const blobs = { mebibyte: randomBytes(MEBIBYTE), large: randomBytes(settings.largeBlobBytes) };
  const fixtures = { porthole: await loadGetFixtures(porthole.url, blobs), 'porthole-default': await loadGetFixtures(portholeDefault.url, blobs) };
  const own = fixtures.porthole;

  // The ceiling answers with porthole's own bytes and headers; nginx serves porthole's own files.
  const answers = await captureAnswers(porthole.url, `/v2/${GET_REPO}/manifests/${own.tag}`, `/v2/${GET_REPO}/blobs/${own.layerDigest}`);
  const fastify = staticContender('fastify', await startFastifyCeiling(dir, answers));
  stopOnTeardown(fastify);
  if (porthole.root === undefined) throw new Error('porthole has no storage root to mirror');
  const mirror = new StaticMirror(join(dir, 'www'), porthole.root);
  await mirror.manifest(GET_REPO, [own.tag, own.manifestDigest], Buffer.from(answers.manifestBase64, 'base64'));
  for (const digest of [own.layerDigest, own.mebibyteBlobDigest, own.largeBlobDigest]) await mirror.blob(GET_REPO, digest);
  const nginxOne = staticContender('nginx-1', await startNginx(join(dir, 'nginx-1'), mirror.root, { workers: 1, manifestType: OCI_MANIFEST }));
  stopOnTeardown(nginxOne);
  const nginxAuto = staticContender('nginx-auto', await startNginx(join(dir, 'nginx-auto'), mirror.root, { workers: 'auto', manifestType: OCI_MANIFEST }));
  stopOnTeardown(nginxAuto);

  const getContenders: Record<GetAnchorName, Contender<GetAnchorName>> = {
    porthole: porthole as Contender<GetAnchorName>,
    'porthole-default': portholeDefault,
    fastify,
    'nginx-1': nginxOne,
    'nginx-auto': nginxAuto,
  };
  const get = await getAnchorFigures(getContenders, fixtures, settings);
  const pull = await curlPullFigures({ porthole: porthole as Contender<'porthole'>, distribution: distribution as Contender<'distribution'>, 'nginx-1': nginxOne }, mirror, sandbox, dir, settings);
  const ingest = await ingestAnchorFigures(porthole, dir, settings, track);
  const logCost = await logCostFigures(dir, settings, track);
  const memory = await idleMemoryFigures(dir, settings);
  return { get, pull, ingest, logCost, memory, checks: [...get.checks, ...logCost.checks, ...memory.checks, ...pull.checks, ...ingest.checks] };
}
