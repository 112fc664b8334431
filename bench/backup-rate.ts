/**
 * Backup and restore rates (issue 13), measured on this machine in one run, against `tar` of the
 * same storage directory: copying those bytes into one file is what a backup must do, so
 * `tar -cf` (plus an fsync of its output, which a backup also does before its rename) is the
 * physical limit. Target: `porthole backup` to a .tar at ≥ 80 % of tar's rate.
 *
 * A registry of about 1 GiB (8 repositories, 4 tags each, layers of 1 to 16 MiB and their configs)
 * is generated through the store API, then every operation is timed in turn (tar, backup, restore,
 * tar -xf, round after round, tar and backup taking turns to go first, medians reported), once
 * with the page cache warm (the storage read
 * just before) and once cold (caches dropped before every run, which needs root). Rates are the
 * registry's content bytes (blobs and manifests) per second. Backups run as a user runs them,
 * `porthole backup` in a process of its own: the job's own time (from its JSON line) and the
 * wall-clock time with Node's start are both given.
 *
 * Run: npm run bench:backup [-- --quick]. Prints a Markdown table.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { digestOf } from '../src/core/digest.js';
import { MEDIA_TYPES } from '../src/core/media-types.js';
import { FilesystemDriver } from '../src/storage/filesystem/fs-driver.js';
import { ImageStore } from '../src/storage/image-store/image-store.js';
import { runCommand } from '../test/e2e/run-command.js';
import { PORTHOLE_CLI } from '../test/helpers/porthole-process.js';
import { describeMachine, loadAverage } from './lib/machine.js';
import { median } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const REPOSITORIES = quick ? 2 : 8;
const TAGS = 4;
const MIB = 1024 * 1024;
/** Layer sizes of each image: 32 MiB an image, 1 GiB over 8 x 4 images. */
const LAYER_MIB = [1, 4, 11, 16];
const BOUND_MS = 20 * 60_000;

interface Registry {
  root: string;
  contentBytes: number;
  blobs: number;
}

async function storeBlob(store: ImageStore, repo: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = digestOf(bytes);
  const { id } = await store.startUpload(repo);
  await store.appendUpload(repo, id, Readable.from([bytes]), { contentLength: bytes.length });
  await store.finishUpload(repo, id, digest);
  return { digest: digest.value, size: bytes.length };
}

/** The registry to back up, written through the store as pushes would write it. */
async function generateRegistry(root: string): Promise<Registry> {
  const store = new ImageStore(new FilesystemDriver(root));
  await store.init();
  let contentBytes = 0;
  let blobs = 0;
  for (let r = 0; r < REPOSITORIES; r += 1) {
    const repo = `bench/app-${r}`;
    for (let t = 0; t < TAGS; t += 1) {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
      const layers = [];
      for (const mib of LAYER_MIB) layers.push(await storeBlob(store, repo, randomBytes(mib * MIB)));
      const configBlob = await storeBlob(store, repo, config);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociManifest,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
          layers: layers.map((layer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer })),
        }),
      );
      await store.putManifest(repo, { kind: 'tag', tag: `v${t}` }, manifest, MEDIA_TYPES.ociManifest);
      contentBytes += layers.reduce((sum, layer) => sum + layer.size, 0) + configBlob.size + manifest.length;
      blobs += layers.length + 1;
    }
  }
  return { root, contentBytes, blobs };
}

type CacheState = 'warm' | 'cold';

async function prepare(state: CacheState, root: string): Promise<void> {
  await runCommand('sync', [], { timeoutMs: 120_000 });
  if (state === 'cold') writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  else await runCommand('tar', ['-cf', '/dev/null', '-C', root, '.'], { timeoutMs: 120_000 });
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** The job's own seconds, from the JSON line a porthole job command prints. */
function jobSeconds(stdout: string): number {
  const line = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { outcome?: string; seconds?: number; error?: string };
  if (line.outcome !== 'success' || line.seconds === undefined) throw new Error(`the job failed: ${stdout}`);
  return line.seconds;
}

interface Sample {
  seconds: number;
  /** Wall-clock seconds of the command, Node's start included (porthole's commands only). */
  wall?: number;
}

async function porthole(args: string[]): Promise<Sample> {
  let stdout = '';
  const wall = await timed(async () => {
    stdout = (await runCommand(process.execPath, [PORTHOLE_CLI, ...args, '--log-level', 'warn'], { timeoutMs: 600_000 })).stdout;
  });
  return { seconds: jobSeconds(stdout), wall };
}

interface Operation {
  name: string;
  run(work: string): Promise<Sample>;
}

function operations(registry: Registry): Operation[] {
  const { root } = registry;
  return [
    {
      name: 'tar -cf + fsync',
      run: async (work) => ({ seconds: await timed(async () => {
        await runCommand('tar', ['-cf', join(work, 'tar.tar'), '-C', root, '.'], { timeoutMs: 600_000 });
        await runCommand('sync', [join(work, 'tar.tar')], { timeoutMs: 600_000 });
      }) }),
    },
    { name: 'porthole backup .tar', run: (work) => porthole(['backup', '--root', root, '--to', join(work, 'backup.tar')]) },
    { name: 'porthole restore .tar', run: (work) => porthole(['restore', '--root', join(work, 'restored'), '--from', join(work, 'backup.tar')]) },
    {
      name: 'tar -xf + sync',
      run: async (work) => ({ seconds: await timed(async () => {
        await runCommand('mkdir', [join(work, 'extracted')]);
        await runCommand('tar', ['-xf', join(work, 'tar.tar'), '-C', join(work, 'extracted')], { timeoutMs: 600_000 });
        await runCommand('sync', ['-f', join(work, 'extracted')], { timeoutMs: 600_000 });
      }) }),
    },
  ];
}

/** Compressed backups, once each per state: for the record, no target. */
function compressedOperations(registry: Registry): Operation[] {
  return ['.tar.zst', '.tar.gz'].map((extension) => ({
    name: `porthole backup ${extension}`,
    run: (work: string) => porthole(['backup', '--root', registry.root, '--to', join(work, `backup${extension}`)]),
  }));
}

interface Row {
  state: CacheState;
  name: string;
  seconds: number;
  wall?: number;
}

async function measure(state: CacheState, registry: Registry, work: string): Promise<Row[]> {
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < ROUNDS; round += 1) {
    // tar and the backup take turns going first (as do the two extractions), so that neither
    // always follows the other's writes on this shared disk.
    const [tarCreate, backup, restore, tarExtract] = operations(registry) as [Operation, Operation, Operation, Operation];
    const order = round % 2 === 0 ? [tarCreate, backup, restore, tarExtract] : [backup, tarCreate, tarExtract, restore];
    for (const operation of order) {
      // The restore reads the backup and tar -xf the tar: the caches are set for each anyway.
      await prepare(state, registry.root);
      samples.set(operation.name, [...(samples.get(operation.name) ?? []), await operation.run(work)]);
    }
    await rm(join(work, 'restored'), { recursive: true, force: true });
    await rm(join(work, 'extracted'), { recursive: true, force: true });
    await rm(join(work, 'backup.tar'), { force: true });
    await rm(join(work, 'tar.tar'), { force: true });
  }
  for (const operation of compressedOperations(registry)) {
    await prepare(state, registry.root);
    samples.set(operation.name, [await operation.run(work)]);
  }
  await rm(join(work, 'backup.tar.zst'), { force: true });
  await rm(join(work, 'backup.tar.gz'), { force: true });
  return [...samples].map(([name, list]) => {
    const walls = list.map((sample) => sample.wall).filter((wall): wall is number => wall !== undefined);
    return { state, name, seconds: median(list.map((sample) => sample.seconds)), ...(walls.length > 0 ? { wall: median(walls) } : {}) };
  });
}

function table(rows: Row[], registry: Registry): string {
  const mib = registry.contentBytes / MIB;
  const lines = [
    '| page cache | operation | seconds (job) | MiB/s (job) | vs tar -cf | seconds (wall, with Node start) | MiB/s (wall) | vs tar -cf |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const tar = rows.find((other) => other.state === row.state && other.name === 'tar -cf + fsync');
    const tarRate = tar === undefined ? undefined : mib / tar.seconds;
    const rate = mib / row.seconds;
    const ratio = (value: number): string => (tarRate === undefined ? '-' : `${((value / tarRate) * 100).toFixed(0)} %`);
    const wall = row.wall === undefined ? ['-', '-', '-'] : [row.wall.toFixed(2), (mib / row.wall).toFixed(0), ratio(mib / row.wall)];
    lines.push(`| ${row.state} | ${row.name} | ${row.seconds.toFixed(2)} | ${rate.toFixed(0)} | ${ratio(rate)} | ${wall.join(' | ')} |`);
  }
  return lines.join('\n');
}

function verdicts(rows: Row[], registry: Registry): string[] {
  const mib = registry.contentBytes / MIB;
  return (['warm', 'cold'] as CacheState[]).flatMap((state) => {
    const tar = rows.find((row) => row.state === state && row.name === 'tar -cf + fsync');
    const backup = rows.find((row) => row.state === state && row.name === 'porthole backup .tar');
    if (!tar || !backup) return [];
    const share = (mib / backup.seconds / (mib / tar.seconds)) * 100;
    return [`- ${state}: backup .tar at ${share.toFixed(0)} % of tar -cf (target ≥ 80 %): ${share >= 80 ? 'met' : 'NOT met'}`];
  });
}

function canDropCaches(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'porthole-bench-backup-'));
  const bound = setTimeout(() => {
    process.stderr.write(`bench:backup did not finish within ${BOUND_MS / 60_000} minutes\n`);
    void rm(work, { recursive: true, force: true }).finally(() => process.exit(1));
  }, BOUND_MS);
  try {
    const loadBefore = loadAverage();
    process.stderr.write('generating the registry...\n');
    const registry = await generateRegistry(join(work, 'storage'));
    const states: CacheState[] = canDropCaches() ? ['warm', 'cold'] : ['warm'];
    const rows: Row[] = [];
    for (const state of states) {
      process.stderr.write(`measuring, page cache ${state}...\n`);
      rows.push(...(await measure(state, registry, work)));
    }
    const machine = describeMachine();
    process.stdout.write(
      [
        `## Backup and restore rates (${new Date().toISOString().slice(0, 10)})`,
        '',
        `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.system}; Node ${machine.versions.node ?? ''}; porthole ${machine.versions.porthole ?? ''}.`,
        `Registry: ${(registry.contentBytes / MIB).toFixed(0)} MiB of content in ${registry.blobs} blobs, ${REPOSITORIES} repositories x ${TAGS} tags; medians of ${ROUNDS} round(s) (compressed backups: 1).`,
        'warm: the storage read whole (tar to /dev/null) just before each run; cold: `sync` and `echo 3 > /proc/sys/vm/drop_caches` before each run.',
        'Every run starts after `sync`; tar -cf is followed by an fsync of its archive, as a backup fsyncs before its rename; restores and tar -xf go to new directories on the same disk.',
        `1-minute load average: ${loadBefore.toFixed(2)} before, ${loadAverage().toFixed(2)} after (other work on the machine shows as noise, on the disk above all).`,
        '',
        table(rows, registry),
        '',
        ...verdicts(rows, registry),
        ...(states.includes('cold') ? [] : ['- cold: not measured (dropping the page cache needs root)']),
        '',
      ].join('\n'),
    );
  } finally {
    clearTimeout(bound);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
