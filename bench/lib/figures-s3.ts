import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LayoutDescription } from '../../test/fixtures/oci-layout.js';
import type { ContainersSandbox } from '../../test/e2e/containers-sandbox.js';
import { makeImage, OCI_MANIFEST } from '../../test/helpers/registry-client.js';
import { GET_REPO } from './api-loading.js';
import { portholeContender, type Contender } from './contenders.js';
import { figureOf, sampleInTurn, type Figure, type Samples } from './figure.js';
import { expectUploads, imageMebibytes, pullTimed, push, ServerCpu } from './figures-transfer.js';
import { buildBenchImages, uploadedBlobs } from './images.js';
import { wrkLoad } from './load-figure.js';
import { versionOf, type Machine } from './machine.js';
import { processCpuSeconds } from './process-cpu.js';
import { machineLines, noiseNote, noisyFigures, renderWideTable, samplesLine, type Column, type RatioColumn } from './report.js';
import { Replicas, loggedErrors, startDistributionOnS3, startPortholeOnFilesystem, startS3Backend, type DistributionOnS3, type Track, type TransferName } from './s3-registries.js';
import type { BenchSettings } from './settings.js';
import { median } from './stats.js';

/**
 * porthole on S3 (s3rver) and Redis: skopeo push and pull against porthole on the filesystem and
 * docker-registry 2.8's s3 driver on the same s3rver, then GETs of a manifest by tag (wrk) through
 * haproxy in front of 1, 2 and 3 replicas on one bucket and one Redis, and straight to one replica.
 * Every figure is measured in turn between its contenders (a, b, c, a, b, c, ...), medians
 * reported, as in the comparison; the section is written apart from it (S3_SECTION_HEADING).
 */

/** The heading that starts this group's section of RESULTS.md; a new run replaces the section. */
export const S3_SECTION_HEADING = '## porthole on S3 (s3rver)';

const TRANSFER_COLUMNS: Array<Column<TransferName>> = [
  { name: 'porthole-s3', label: 'porthole on S3 (1 replica, Redis)' },
  { name: 'porthole-fs', label: 'porthole on the filesystem' },
  { name: 'distribution-s3', label: 'distribution on S3' },
];
const TRANSFER_RATIOS: Array<RatioColumn<TransferName>> = [
  { label: 'porthole S3 / filesystem', of: 'porthole-s3', over: 'porthole-fs' },
  { label: 'porthole S3 / distribution S3', of: 'porthole-s3', over: 'distribution-s3' },
];

/** Where the GETs go: porthole on the filesystem, one replica on S3, haproxy in front of 1, 2, 3 replicas. */
type GetName = 'fs-direct' | 's3-direct' | `haproxy-${number}`;

/** A target of the GET figure, and the processes that serve its requests. */
interface GetTarget {
  name: GetName;
  url: string;
  /** The porthole processes behind it: their CPU is summed. */
  servers: number[];
  /** haproxy's process, when there is one. */
  balancer?: number;
  /** The s3rver's process, when the content is on S3. */
  store?: number;
}

/** What a run of the group gives: the figures of its two tables, and what did not work. */
export interface S3Run {
  transfer: Array<Figure<TransferName>>;
  get: Array<Figure<GetName>>;
  getColumns: Array<Column<GetName>>;
  getRatios: Array<RatioColumn<GetName>>;
  /** Why a contender could not be measured, for the notes. */
  failures: string[];
}

/** The reason a push to docker-registry failed, from skopeo's words and the registry's own log. */
function failureReason(err: unknown, distribution: DistributionOnS3): string {
  const message = err instanceof Error ? err.message : String(err);
  // logrus quotes the message and escapes the quotes inside it.
  const quoted = /level=fatal msg="((?:[^"\\]|\\.)*)"/.exec(message)?.[1]?.replace(/\\(.)/g, '$1');
  const skopeo = quoted ?? message.split('\n').find((line) => line.trim() !== '')?.trim() ?? message;
  // Its own words, not the generic line every failed request gets.
  const logged = [...new Set(loggedErrors(distribution.service().output()))].filter((line) => line !== 'response completed with error').slice(0, 2);
  return `skopeo: "${skopeo}"${logged.length === 0 ? '' : `; docker-registry logged: ${logged.map((line) => `"${line}"`).join(', ')}`}`;
}

/** The s3rver's CPU seconds over each sample, per contender: its share of a transfer to S3. */
class StoreCpu {
  readonly spent: Samples<TransferName> = { 'porthole-s3': [], 'porthole-fs': [], 'distribution-s3': [] };

  constructor(private readonly pid: number) {}

  async around<T>(name: TransferName, work: () => Promise<T>): Promise<T> {
    const before = processCpuSeconds(this.pid);
    const result = await work();
    this.spent[name].push(processCpuSeconds(this.pid) - before);
    return result;
  }

  text(): string {
    const each = TRANSFER_COLUMNS.map(({ name }) => (this.spent[name].length === 0 || name === 'porthole-fs' ? '—' : median(this.spent[name]).toFixed(2)));
    return `s3rver CPU per sample ${each.join(' / ')} s`;
  }
}

const PUSHED_REPO = 'bench/s3-push';

/** Long enough for a replica's start-up work (its first heartbeat and storage scan) to settle. */
const SETTLE_MS = 2000;

async function transferFigures(
  contenders: Array<Contender<TransferName>>,
  distribution: DistributionOnS3,
  storePid: number,
  sandbox: ContainersSandbox,
  work: string,
  settings: BenchSettings,
  failures: string[],
): Promise<Array<Figure<TransferName>>> {
  console.error('bench: s3: building the images (before anything is measured)');
  const images = await buildBenchImages(join(work, 's3-images'), settings, TRANSFER_COLUMNS.map((column) => column.name), false);
  const size = imageMebibytes(images.push['porthole-s3'][0] as LayoutDescription);
  const layers = settings.pushImage.layers;
  const order = TRANSFER_COLUMNS.map((column) => column.label).join(' / ');
  // docker-registry's push is tried once; when it fails, the reason goes to the notes and its
  // other samples (and its pull: nothing was pushed) are not taken.
  let distributionFailure: string | undefined;

  console.error(`bench: s3: skopeo push of a ${size.toFixed(0)} MiB image`);
  const pushCpu = new ServerCpu(TRANSFER_COLUMNS.map((column) => column.name));
  const pushStore = new StoreCpu(storePid);
  const pushSamples = await sampleInTurn(settings.pairs, contenders, async (contender, index) => {
    if (contender.name === 'distribution-s3' && distributionFailure !== undefined) return undefined;
    const image = images.push[contender.name][index] as LayoutDescription;
    const before = await contender.uploadPatches();
    try {
      const seconds = await pushStore.around(contender.name, () => pushCpu.timed(contender, () => push(sandbox, contender, image, `${PUSHED_REPO}-${index}`)));
      await expectUploads(contender, before, uploadedBlobs(image), `a push of ${size.toFixed(0)} MiB`);
      return seconds;
    } catch (err) {
      if (contender.name !== 'distribution-s3') throw err;
      distributionFailure = failureReason(err, distribution);
      console.error(`bench: s3: the push to docker-registry on S3 did not work: ${distributionFailure}`);
      return undefined;
    }
  });
  const pushFigure = figureOf(`skopeo push of a ${size.toFixed(0)} MiB, ${layers}-layer image`, 's', 2, pushSamples);
  pushFigure.detail = `every sample a new image, its ${layers + 1} blobs each seen uploaded (PATCH) by the registry; ${pushCpu.text()}, ${pushStore.text()} (${order})`;

  console.error('bench: s3: skopeo pull of that image');
  const pullCpu = new ServerCpu(TRANSFER_COLUMNS.map((column) => column.name));
  const pullStore = new StoreCpu(storePid);
  const pulled = contenders.filter((contender) => contender.name !== 'distribution-s3' || distributionFailure === undefined);
  const pull = (contender: Contender<TransferName>, label: string, cpu: ServerCpu<TransferName>): Promise<number> =>
    pullTimed(sandbox, contender, `${PUSHED_REPO}-0`, join(work, `s3-pull-${contender.name}-${label}`), cpu);
  // One untimed pull each first, as in the comparison (JIT of the streaming path, S3 connections).
  for (const contender of pulled) await pull(contender, 'warm-up', new ServerCpu(TRANSFER_COLUMNS.map((column) => column.name)));
  const pullSamples = await sampleInTurn(settings.pairs, contenders, (contender, index) =>
    pulled.includes(contender) ? pullStore.around(contender.name, () => pull(contender, String(index), pullCpu)) : Promise.resolve(undefined),
  );
  const pullFigure = figureOf('skopeo pull of that image (into a fresh OCI layout)', 's', 2, pullSamples);
  pullFigure.detail = `${pullCpu.text()}, ${pullStore.text()} (${order})`;

  if (distributionFailure !== undefined) {
    pushFigure.failed = { 'distribution-s3': distributionFailure };
    pullFigure.failed = { 'distribution-s3': 'nothing to pull: its push did not work' };
    failures.push(`distribution on S3 did not work: ${distributionFailure}. Its pull was therefore not measured either (nothing was pushed).`);
  }
  return [pushFigure, pullFigure];
}

/** The GET figure's rows, all from the same wrk runs: throughput, then what each process spent per request. */
interface GetRun {
  requestsPerSecond: number;
  serverMicros: number;
  balancerMicros?: number;
  storeMicros?: number;
  busyCores: number;
}

async function getRun(target: GetTarget, path: string, seconds: number): Promise<GetRun> {
  const pids = [...target.servers, ...(target.balancer === undefined ? [] : [target.balancer]), ...(target.store === undefined ? [] : [target.store])];
  const before = new Map(pids.map((pid) => [pid, processCpuSeconds(pid)]));
  const spent = (pid: number): number => processCpuSeconds(pid) - (before.get(pid) as number);
  const started = performance.now();
  // As figures-get.ts: wrk -t2 -c32, an Accept naming the OCI manifest type.
  const result = await wrkLoad(target, path, { seconds, headers: { accept: OCI_MANIFEST } }, 'req/s');
  const elapsed = (performance.now() - started) / 1000;
  const perRequest = (cpu: number): number => (cpu / Math.max(1, result.requests)) * 1e6;
  const server = target.servers.reduce((sum, pid) => sum + spent(pid), 0);
  const run: GetRun = { requestsPerSecond: result.value, serverMicros: perRequest(server), busyCores: pids.reduce((sum, pid) => sum + spent(pid), 0) / elapsed };
  if (target.balancer !== undefined) run.balancerMicros = perRequest(spent(target.balancer));
  if (target.store !== undefined) run.storeMicros = perRequest(spent(target.store));
  return run;
}

async function getFigures(targets: GetTarget[], settings: BenchSettings): Promise<Array<Figure<GetName>>> {
  const path = `/v2/${GET_REPO}/manifests/v1`;
  console.error('bench: s3: GET manifest by tag, straight and through haproxy');
  for (const target of targets) await getRun(target, path, settings.warmupSeconds);
  const runs = new Map<GetName, GetRun[]>(targets.map((target) => [target.name, []]));
  const requestRates = await sampleInTurn(settings.pairs, targets, async (target) => {
    const run = await getRun(target, path, settings.loadSeconds);
    runs.get(target.name)?.push(run);
    return run.requestsPerSecond;
  });
  const row = (name: string, unit: string, digits: number, of: (run: GetRun) => number | undefined): Figure<GetName> => {
    const samples = Object.fromEntries(
      targets.map((target) => [target.name, (runs.get(target.name) ?? []).map(of).filter((value): value is number => value !== undefined)]),
    ) as Samples<GetName>;
    return figureOf(name, unit, digits, samples);
  };
  const throughput = figureOf('GET manifest by tag (wrk -t2 -c32)', 'req/s', 0, requestRates);
  throughput.detail = 'every answer a 200 and no socket error (checked)';
  return [
    throughput,
    row("porthole's CPU per request, summed over the replicas behind", 'µs', 0, (run) => run.serverMicros),
    row("haproxy's CPU per request", 'µs', 0, (run) => run.balancerMicros),
    row("s3rver's CPU per request", 'µs', 0, (run) => run.storeMicros),
    row('cores kept busy by porthole, haproxy and s3rver together', 'cores', 2, (run) => run.busyCores),
  ];
}

/**
 * The whole group. Everything it starts is handed to `track` as soon as it runs (teardown.ts
 * stops it, newest first: the replicas and balancers before the s3rver and Redis under them).
 */
export async function s3Figures(sandbox: ContainersSandbox, work: string, settings: BenchSettings, track: Track): Promise<S3Run> {
  console.error('bench: s3: starting s3rver, redis-server, porthole on S3, porthole on the filesystem, docker-registry on S3');
  const backend = await startS3Backend(track);
  const replicas = await Replicas.plan(backend, settings.s3Replicas, track);
  const [first] = await replicas.startUpTo(1);
  if (first === undefined) throw new Error('no porthole replica started');
  const filesystem = await startPortholeOnFilesystem(track);
  const distribution = await startDistributionOnS3(backend.s3, backend.distributionBucket, track);
  const storePid = backend.s3.service().process.pid as number;
  const contenders = [portholeContender('porthole-s3', first), filesystem.contender, distribution.contender];

  const failures: string[] = [];
  const transfer = await transferFigures(contenders, distribution, storePid, sandbox, work, settings, failures);

  // The GETs' content: one small image, as in figures-get.ts, put through replica r1 (on the
  // bucket every replica serves) and into porthole on the filesystem.
  await makeImage(first.url, GET_REPO, { tag: 'v1', blobStyle: 'post-put' });
  await makeImage(filesystem.porthole.url, GET_REPO, { tag: 'v1', blobStyle: 'post-put' });
  const running = await replicas.startUpTo(settings.s3Replicas);
  // As the comparison does after its start: the new replicas' start-up work settles before any load.
  await sleep(SETTLE_MS);
  const pids = running.map((replica) => replica.process.pid as number);
  const targets: GetTarget[] = [
    { name: 'fs-direct', url: filesystem.porthole.url, servers: [filesystem.contender.pid] },
    { name: 's3-direct', url: first.url, servers: [pids[0] as number], store: storePid },
  ];
  const getColumns: Array<Column<GetName>> = [
    { name: 'fs-direct', label: 'porthole on the filesystem, straight' },
    { name: 's3-direct', label: '1 replica on S3, straight' },
  ];
  for (let count = 1; count <= settings.s3Replicas; count += 1) {
    const haproxy = await replicas.balancer(count);
    targets.push({ name: `haproxy-${count}`, url: haproxy.url, servers: pids.slice(0, count), balancer: haproxy.service().process.pid as number, store: storePid });
    getColumns.push({ name: `haproxy-${count}`, label: `haproxy → ${count} replica${count === 1 ? '' : 's'}` });
  }
  const get = await getFigures(targets, settings);
  const getRatios: Array<RatioColumn<GetName>> = [
    { label: 'S3 / filesystem, straight', of: 's3-direct', over: 'fs-direct' },
    { label: 'haproxy → 1 / straight', of: 'haproxy-1', over: 's3-direct' },
    { label: `haproxy → ${settings.s3Replicas} / haproxy → 1`, of: `haproxy-${settings.s3Replicas}`, over: 'haproxy-1' },
  ];
  return { transfer, get, getColumns, getRatios, failures };
}

export interface S3RunRecord {
  date: Date;
  settings: BenchSettings;
  machine: Machine;
  run: S3Run;
  loadBefore: number;
  loadAfter: number;
  elapsedSeconds: number;
}

/** The versions of what this group adds to the comparison's tools. */
function s3Versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const { version } = require('s3rver/package.json') as { version: string };
  return {
    s3rver: version,
    haproxy: versionOf('haproxy', ['-v'], /version (\S+)/),
    'redis-server': versionOf('redis-server', ['--version'], /v=(\S+)/),
  };
}

export function renderS3Tables(run: S3Run): string {
  return [renderWideTable(run.transfer, TRANSFER_COLUMNS, TRANSFER_RATIOS), '', renderWideTable(run.get, run.getColumns, run.getRatios)].join('\n');
}

export function renderS3Section(record: S3RunRecord): string {
  const { settings, run } = record;
  const mode = settings.quick ? ' (quick run: tiny sizes, one round: a smoke run, not a measurement)' : '';
  const command = `npm run bench -- ${settings.quick ? '--quick ' : ''}--only s3`;
  return [
    `${S3_SECTION_HEADING} — ${record.date.toISOString().slice(0, 10)}${mode}`,
    '',
    ...machineLines(record.machine, s3Versions()),
    `Command: \`${command}\` (${settings.pairs} round(s) taking the contenders in turn, medians; ${settings.loadSeconds} s wrk runs after a ${settings.warmupSeconds} s warm-up each; ${Math.round(record.elapsedSeconds)} s in all).`,
    '',
    'Everything on loopback: one s3rver (a single Node process keeping objects in a temp dir) holds a bucket for porthole and one for docker-registry; one redis-server. ' +
      `porthole on S3 is ${settings.s3Replicas} replica(s) on one bucket sharing that Redis (each with its own replicaId and port; log.level warn, full-mode metrics, ` +
      '`storage.s3.delimiterListing: false` as s3rver needs, the default part size); the transfers use replica r1 alone, straight. ' +
      'porthole on the filesystem is configured as the comparison\'s (a temp dir of its own). distribution is docker-registry 2.8.2 with its s3 driver (`regionendpoint`: path-style, `chunksize` 5 MiB, `redirect.disable: true`). ' +
      'haproxy is configured as in docs/scale-out.md (round robin per request, `http-server-close`, health checks on /livez).',
    '',
    renderS3Tables(run),
    '',
    'Samples, in the order taken (the contenders in turn), with what the servers spent:',
    '',
    ...run.transfer.map((figure) => samplesLine(figure, TRANSFER_COLUMNS, true)),
    ...run.get.map((figure) => samplesLine(figure, run.getColumns, true)),
    '',
    'Notes:',
    `- Load average (1 min): ${record.loadBefore.toFixed(2)} before the group started, ${record.loadAfter.toFixed(2)} at the end.`,
    `- ${noiseNote([...noisyFigures(run.transfer, TRANSFER_COLUMNS), ...noisyFigures(run.get, run.getColumns)])}`,
    ...run.failures.map((failure) => `- ${failure}`),
    '- s3rver is one single-threaded Node process writing each object to the local disk: it, not S3, bounds the S3 figures here, and its CPU per sample or request is reported beside porthole\'s.',
    '- On this machine wrk, haproxy, every replica and s3rver share the cores: more replicas cannot add throughput once the cores are busy, so the figure of 2 or 3 replicas shows what balancing costs (haproxy\'s CPU, a new backend connection per request with http-server-close), not what more machines would give.',
    '',
  ].join('\n');
}
