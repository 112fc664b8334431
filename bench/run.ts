/**
 * porthole against the reference registry (CNCF distribution 2.8.2, Debian's docker-registry),
 * side by side in one run on this machine: GET and HEAD throughput (wrk, ab), skopeo push and
 * pull, concurrent pushes, the ingest rate of one large blob against one core's sha256, catalog and
 * tags lists with many repositories and tags, resident memory, and cold and warm pulls through
 * porthole's pull-through cache against docker-registry's proxy mode. Each figure is measured
 * alternately (porthole, distribution, ...) and the medians compared; the section is written into
 * bench/RESULTS.md (or the file given with --results). Group anchors (anchors.ts) measures porthole
 * against the bounds of issue 20 (a bare Fastify server, nginx, the disk, one core's sha256) in a
 * section of its own; group s3 (figures-s3.ts) porthole on S3 (s3rver) and Redis, behind haproxy
 * with 1 to 3 replicas, in another; group soak (soak.ts, opt-in) porthole's RSS under 10 minutes
 * of mixed load, in another.
 *
 * Run: npm run bench [-- --quick] [-- --results FILE] [-- --only GROUPS]. Bounded in time
 * (settings.ts); every process it starts is stopped, and every temp dir removed, however it ends
 * (teardown.ts).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ContainersSandbox } from '../test/e2e/containers-sandbox.js';
import { cleanup, tempDir } from '../test/helpers/porthole-process.js';
import { anchorsFigures } from './lib/anchors.js';
import { ANCHORS_SECTION_HEADING, renderAnchorsSection, renderAnchorsTables } from './lib/anchors-report.js';
import { startContenders, type Contenders } from './lib/contenders.js';
import { figureOf, type Figure } from './lib/figure.js';
import { getFigures, MB } from './lib/figures-get.js';
import { durableWriteBytesPerSecond, ingestFigures, sha256BytesPerSecond, writeRandomFile } from './lib/figures-ingest.js';
import { listingFigures } from './lib/figures-listing.js';
import { proxyFigures } from './lib/figures-proxy.js';
import { renderS3Section, renderS3Tables, S3_SECTION_HEADING, s3Figures } from './lib/figures-s3.js';
import { transferFigures } from './lib/figures-transfer.js';
import { buildBenchImages } from './lib/images.js';
import { describeMachine, loadAverage, type Machine } from './lib/machine.js';
import { IDLE_SETTLE_MS, residentBytes } from './lib/process-memory.js';
import { renderSection, renderTable, writeResults } from './lib/report.js';
import { deadlineOf, parseArguments, runsComparison } from './lib/settings.js';
import { soakFigures } from './lib/soak.js';
import { renderSoakSection, renderSoakTable, SOAK_SECTION_HEADING } from './lib/soak-report.js';
import { Teardown } from './lib/teardown.js';

function idleFigure(contenders: Contenders): Figure {
  const idle = { porthole: [residentBytes(contenders.porthole.pid) / MB], distribution: [residentBytes(contenders.distribution.pid) / MB] };
  return figureOf('RSS idle after start (VmRSS)', 'MB', 0, idle, { kind: 'porthole-at-most', bound: 80, unit: 'MB' });
}

const { settings, groups, resultsPath } = parseArguments(process.argv.slice(2));

/** One core's sha256 rate and the disk's durable write rate, and the file to ingest. */
async function ingestBounds(work: string, ingestFile: string): Promise<{ sha256: number; durableWrite: number }> {
  console.error('bench: openssl speed -evp sha256; dd conv=fsync');
  const bounds = { sha256: await sha256BytesPerSecond(settings.quick ? 1 : 3), durableWrite: await durableWriteBytesPerSecond(work, settings.ingestBytes) };
  await writeRandomFile(ingestFile, settings.ingestBytes);
  return bounds;
}

/** porthole against distribution: both registries started, every figure of the comparison's groups, its section written. */
async function comparison(machine: Machine, work: string, sandbox: ContainersSandbox): Promise<void> {
  const started = performance.now();
  const loadBefore = loadAverage();
  // Before anything else runs: the bounds of a single blob's ingest, one core's sha256 rate and the disk's durable write rate.
  const ingestFile = join(work, 'ingest.bin');
  const bounds = groups.has('ingest') ? await ingestBounds(work, ingestFile) : undefined;
  if (groups.has('transfer')) console.error('bench: building the images (before anything is measured)');
  const images = groups.has('transfer') ? await buildBenchImages(work, settings) : undefined;

  const contenders = await startContenders((contender) => teardown.add(`stop ${contender.name}`, () => contender.dispose()));
  await sleep(IDLE_SETTLE_MS);
  const idle = idleFigure(contenders);

  const get = groups.has('get') ? await getFigures(contenders, settings) : [];
  const transfer = images ? await transferFigures(contenders, sandbox, images, work, settings) : [];
  const ingest = bounds ? await ingestFigures(contenders, ingestFile, bounds, settings) : [];
  const [repositoriesLoad, tagsLoad, ...listing] = groups.has('listing') ? await listingFigures(contenders, settings) : [];
  const proxy = groups.has('proxy') ? await proxyFigures(sandbox, work, settings, (what, stop) => teardown.add(what, stop)) : [];
  const [peak] = get.splice(-1);

  // The table in the order of the figures, then what is reported beside them.
  const figures = [...get, ...transfer, ...listing, idle, peak, ...ingest, ...proxy, repositoriesLoad, tagsLoad].filter((figure): figure is Figure => figure !== undefined);
  const record = { date: new Date(), settings, machine, figures, loadBefore, loadAfter: loadAverage(), elapsedSeconds: (performance.now() - started) / 1000 };
  await writeResults(resultsPath, renderSection(record));
  console.log(renderTable(figures));
  console.error(`bench: results written to ${resultsPath} (${Math.round(record.elapsedSeconds)} s)`);
}

/** porthole against its anchors (group anchors): its contenders started, its figures, its section written. */
async function anchorsGroup(machine: Machine, sandbox: ContainersSandbox): Promise<void> {
  const started = performance.now();
  const loadBefore = loadAverage();
  const run = await anchorsFigures(sandbox, settings, (what, step) => teardown.add(what, step));
  const record = { date: new Date(), settings, machine, run, loadBefore, loadAfter: loadAverage(), elapsedSeconds: (performance.now() - started) / 1000 };
  await writeResults(resultsPath, renderAnchorsSection(record), ANCHORS_SECTION_HEADING);
  console.log(renderAnchorsTables(run));
  console.error(`bench: anchors: results written to ${resultsPath} (${Math.round(record.elapsedSeconds)} s)`);
}

/** porthole on S3 (group s3): its registries started, its figures, its section written. */
async function s3Group(machine: Machine, work: string, sandbox: ContainersSandbox): Promise<void> {
  const started = performance.now();
  const loadBefore = loadAverage();
  const run = await s3Figures(sandbox, work, settings, (what, stop) => teardown.add(what, stop));
  const record = { date: new Date(), settings, machine, run, loadBefore, loadAfter: loadAverage(), elapsedSeconds: (performance.now() - started) / 1000 };
  await writeResults(resultsPath, renderS3Section(record), S3_SECTION_HEADING);
  console.log(renderS3Tables(run));
  console.error(`bench: s3: results written to ${resultsPath} (${Math.round(record.elapsedSeconds)} s)`);
}

/** The soak (group soak, opt-in): one porthole under mixed load, its RSS curve written in a section of its own. */
async function soakGroup(machine: Machine): Promise<void> {
  const started = performance.now();
  const loadBefore = loadAverage();
  const run = await soakFigures(settings, (what, stop) => teardown.add(what, stop));
  const record = { date: new Date(), settings, machine, run, loadBefore, loadAfter: loadAverage(), elapsedSeconds: (performance.now() - started) / 1000 };
  await writeResults(resultsPath, renderSoakSection(record), SOAK_SECTION_HEADING);
  console.log(renderSoakTable(run, settings));
  console.error(`bench: soak: results written to ${resultsPath} (${Math.round(record.elapsedSeconds)} s)`);
}

const teardown = new Teardown();
teardown.armInterrupts(deadlineOf(settings, groups));
try {
  const machine = describeMachine();
  const work = await tempDir('bench-work');
  teardown.add('remove the images and blobs', () => cleanup(work));
  const sandbox = await ContainersSandbox.create();
  teardown.add('remove the skopeo sandbox', () => sandbox.dispose());
  const sections: Array<[boolean, () => Promise<void>]> = [
    [runsComparison(groups), () => comparison(machine, work, sandbox)],
    [groups.has('anchors'), () => anchorsGroup(machine, sandbox)],
    [groups.has('s3'), () => s3Group(machine, work, sandbox)],
    [groups.has('soak'), () => soakGroup(machine)],
  ];
  for (const [runs, section] of sections) {
    if (!runs) continue;
    const mark = teardown.mark();
    await section();
    // What a section started is stopped before the next one: idle, its registries would still walk their storage for metrics.
    await teardown.unwindTo(mark);
  }
} catch (err) {
  if (!teardown.aborting) console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await teardown.run();
}

// The batch jobs have no counterpart in distribution: their benchmarks compare each job with its
// physical limit (tar, one core's sha256) and print their own tables (bench/RESULTS.md keeps them
// in its "Batch jobs" section). Run one after the other, each bounded, once the registries are gone.
if (groups.has('jobs') && process.exitCode !== 1) {
  for (const script of ['gc-scale.js', 'scrub-rate.js', 'backup-rate.js']) {
    console.error(`bench: ${script}`);
    const run = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...(settings.quick ? ['--quick'] : [])], { stdio: 'inherit', timeout: 60 * 60_000 });
    if (run.status !== 0) process.exitCode = 1;
  }
}
