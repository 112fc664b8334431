/**
 * How close `porthole scrub` comes to its physical limit (issue 13): a scrub re-hashes every
 * stored byte, and a hash is sequential, so one core's sha256 rate bounds it. Measured in one run:
 *  1. one core's sha256 over data in memory (node:crypto, updates of 1 MiB, the size of a scrub's
 *     reads), in this process;
 *  2. `porthole scrub` (the built CLI, as an operator runs it) over a storage of about 1 GiB of
 *     blobs that this bench writes, with the page cache warm (every file read right before each
 *     sample, after a `sync` so that no writeback competes: on a shared machine another
 *     benchmark may drop the caches at any time): bytes hashed over the run's own duration (its
 *     listing pass included, the process start-up not).
 * Samples alternate (sha256, scrub, sha256, ...); the ratio is the median of each round's scrub
 * over that round's sha256, so that what else the machine is doing falls on both alike (the load
 * average before and after is printed). Target: scrub at least 70% of one core's sha256. The scrub is not pinned: its reads run on libuv's threads while
 * its one main thread hashes, as in production.
 *
 * Run: npm run bench:scrub [-- --quick]. Prints a Markdown table; the storage is removed at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tryParseDigest, type Digest } from '../src/core/digest.js';
import { layout } from '../src/storage/layout.js';
import { runCommand } from '../test/e2e/run-command.js';
import { cleanup, PORTHOLE_CLI, tempDir } from '../test/helpers/porthole-process.js';
import { median } from './lib/stats.js';
import { Teardown } from './lib/teardown.js';

const MIB = 1024 * 1024;
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 7;
/** Blob sizes of the generated storage: a few large layers, more mid-sized ones, many small configs and manifests. */
const BLOB_MIX = quick
  ? [{ count: 4, bytes: 24 * MIB }, { count: 16, bytes: 2 * MIB }, { count: 64, bytes: 8 * 1024 }]
  : [{ count: 24, bytes: 32 * MIB }, { count: 64, bytes: 4 * MIB }, { count: 512, bytes: 8 * 1024 }];
/** Of the small blobs, this many are stored as manifests (a revision link each), as a scrub sees them. */
const MANIFESTS = quick ? 16 : 128;
const TARGET = 0.7;
const DEADLINE_MS = (quick ? 3 : 15) * 60_000;
const REPOSITORY = 'bench/scrub';

/** One core's sha256 rate (bytes/s): 1 GiB (256 MiB in a quick run) of 1 MiB updates over one buffer of random bytes. */
function sha256BytesPerSecond(): number {
  const chunk = randomBytes(MIB);
  const updates = quick ? 256 : 1024;
  const hash = createHash('sha256');
  const started = performance.now();
  for (let i = 0; i < updates; i += 1) hash.update(chunk);
  hash.digest();
  return (updates * MIB) / ((performance.now() - started) / 1000);
}

async function storeBlob(root: string, bytes: Buffer): Promise<Digest> {
  const digest = tryParseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`) as Digest;
  const path = join(root, layout.blobData(digest));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return digest;
}

async function link(root: string, path: string, content: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

/** Writes the storage in porthole's layout (src/storage/layout.ts): every blob linked into one repository, some as manifests. */
async function generateStorage(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  let manifests = 0;
  for (const { count, bytes: size } of BLOB_MIX) {
    for (let i = 0; i < count; i += 1) {
      const digest = await storeBlob(root, randomBytes(size));
      if (size < MIB && manifests < MANIFESTS) {
        manifests += 1;
        await link(root, layout.manifestRevision(REPOSITORY, digest), 'application/vnd.oci.image.manifest.v1+json');
      } else {
        await link(root, layout.blobLink(REPOSITORY, digest), digest.value);
      }
      files += 1;
      bytes += size;
    }
  }
  return { files, bytes };
}

/** Reads every file under `dir` once, so that the scrub that follows finds them in the page cache. */
async function warmPageCache(dir: string): Promise<void> {
  const buffer = Buffer.allocUnsafe(MIB);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const fd = openSync(join(entry.parentPath, entry.name), 'r');
    try {
      while (readSync(fd, buffer, 0, MIB, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
}

interface ScrubSample {
  bytesPerSecond: number;
  bytes: number;
  items: number;
}

/** One `porthole scrub` of `root`: the bytes it hashed over the seconds of its run, from its JSON line. */
async function scrubRate(root: string): Promise<ScrubSample> {
  await runCommand('sync', []);
  await warmPageCache(root);
  const { stdout } = await runCommand(process.execPath, [PORTHOLE_CLI, 'scrub', '--root', root, '--log-level', 'warn'], { timeoutMs: 300_000 });
  const line = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { outcome: string; seconds: number; bytes: number; blobs: number; manifests: number };
  if (line.outcome !== 'success') throw new Error(`porthole scrub did not succeed: ${stdout}`);
  return { bytesPerSecond: line.bytes / line.seconds, bytes: line.bytes, items: line.blobs + line.manifests };
}

function mibPerSecond(bytesPerSecond: number): string {
  return `${(bytesPerSecond / MIB).toFixed(0)} MiB/s`;
}

const teardown = new Teardown();
teardown.armInterrupts(DEADLINE_MS);
try {
  const loadBefore = loadavg()[0] ?? 0;
  const root = await tempDir('bench-scrub');
  teardown.add('remove the generated storage', () => cleanup(root));
  console.error(`bench: writing the storage (${quick ? 'quick' : 'about 1 GiB'})`);
  const generated = await generateStorage(root);
  console.error('bench: a first scrub, not counted (the CLI\'s own files into the page cache)');
  await scrubRate(root);

  const sha256: number[] = [];
  const scrub: ScrubSample[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    console.error(`bench: round ${round + 1} of ${ROUNDS}`);
    sha256.push(sha256BytesPerSecond());
    scrub.push(await scrubRate(root));
  }
  const shaRate = median(sha256);
  const scrubRateMedian = median(scrub.map((sample) => sample.bytesPerSecond));
  const ratio = median(scrub.map((sample, round) => sample.bytesPerSecond / (sha256[round] ?? Number.NaN)));
  const size = `${(generated.bytes / 1024 ** 3).toFixed(2)} GiB in ${generated.files} files (${MANIFESTS} of them manifests)`;
  const table = [
    '| figure | value | samples | target | result |',
    '| --- | --- | --- | --- | --- |',
    `| one core's sha256 (node:crypto, 1 MiB updates, in memory) | ${mibPerSecond(shaRate)} | ${sha256.map(mibPerSecond).join(', ')} | | |`,
    `| porthole scrub, ${size}, page cache warm | ${mibPerSecond(scrubRateMedian)} | ${scrub.map((sample) => mibPerSecond(sample.bytesPerSecond)).join(', ')} | | |`,
    `| scrub / one core's sha256 (median of the rounds' ratios) | ${(ratio * 100).toFixed(0)}% | ${scrub.map((sample, round) => `${((sample.bytesPerSecond / (sha256[round] ?? Number.NaN)) * 100).toFixed(0)}%`).join(', ')} | ≥ ${TARGET * 100}% | ${ratio >= TARGET ? 'pass' : '**FAIL**'} |`,
  ].join('\n');
  console.log(table);
  const load = `load average ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? 0).toFixed(2)} after`;
  console.log(`\n${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; node ${process.version}; medians of ${ROUNDS} alternating samples; ${load}${quick ? ' (quick run: a smoke run, not a measurement)' : ''}.`);
} finally {
  await teardown.run();
}
