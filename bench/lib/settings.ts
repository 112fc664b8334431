import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;

/** The shape of a generated image: `layers` random, incompressible layers of about `layerBytes`. */
export interface ImageShape {
  layers: number;
  layerBytes: number;
}

/** Everything that differs between a full run and --quick, in one place. */
export interface BenchSettings {
  quick: boolean;
  /** Alternating (porthole, distribution) pairs per figure. */
  pairs: number;
  /** Length of each measured wrk or ab run, and of the warm-up run before a figure. */
  loadSeconds: number;
  warmupSeconds: number;
  /** The single-push image (200 MiB in 4 layers) and the images of the concurrent pushes. */
  pushImage: ImageShape;
  concurrentPushers: number;
  concurrentImage: ImageShape;
  /** The image pulled through the pull-through caches (cold and warm). */
  proxyImage: ImageShape;
  /** The blob of the "64 MiB blob" figure. */
  largeBlobBytes: number;
  /** The blob of the ingest figure (a PUT with curl). */
  ingestBytes: number;
  repositories: number;
  tags: number;
  /** In-flight requests while loading repositories and tags through the API. */
  loadConcurrency: number;
  /** The comparison (every group but s3) is stopped (and cleaned up) after this long. */
  deadlineMs: number;
  /** Time allowed for the s3 group, on top of the comparison's when both run. */
  s3DeadlineMs: number;
  /** How many porthole replicas on one bucket the s3 group's GET figure puts behind haproxy: 1, 2, ... this many. */
  s3Replicas: number;
  /** Rounds of the anchors' server-CPU figures (access log, metrics), each contender once a round, and the length of each run. */
  cpuRounds: number;
  cpuSeconds: number;
  /** Time allowed for the anchors group, on top of the others' when they run. */
  anchorsDeadlineMs: number;
  /** The soak: how long the mixed load runs, how often RSS is read, the rows of its table, how often a push is made. */
  soak: SoakSettings;
  /** Time allowed for the soak group, on top of the others'. */
  soakDeadlineMs: number;
}

/** The shape of the soak (group soak): its length and its rhythms, in seconds. */
export interface SoakSettings {
  seconds: number;
  sampleSeconds: number;
  reportSeconds: number;
  pushSeconds: number;
}

const FULL: BenchSettings = {
  quick: false,
  pairs: 3,
  loadSeconds: 10,
  warmupSeconds: 3,
  pushImage: { layers: 4, layerBytes: 50 * MiB },
  concurrentPushers: 8,
  concurrentImage: { layers: 4, layerBytes: 8 * MiB },
  proxyImage: { layers: 4, layerBytes: 16 * MiB },
  largeBlobBytes: 64 * MiB,
  ingestBytes: 1024 * MiB,
  repositories: 10_000,
  tags: 1_000,
  loadConcurrency: 16,
  deadlineMs: 45 * 60_000,
  s3DeadlineMs: 25 * 60_000,
  s3Replicas: 3,
  cpuRounds: 6,
  cpuSeconds: 5,
  anchorsDeadlineMs: 35 * 60_000,
  soak: { seconds: 600, sampleSeconds: 10, reportSeconds: 60, pushSeconds: 5 },
  soakDeadlineMs: 15 * 60_000,
};

const QUICK: BenchSettings = {
  quick: true,
  pairs: 1,
  loadSeconds: 2,
  warmupSeconds: 1,
  pushImage: { layers: 4, layerBytes: 2 * MiB },
  concurrentPushers: 8,
  concurrentImage: { layers: 2, layerBytes: MiB / 2 },
  proxyImage: { layers: 3, layerBytes: MiB / 2 },
  largeBlobBytes: MiB,
  ingestBytes: 32 * MiB,
  repositories: 200,
  tags: 100,
  loadConcurrency: 16,
  deadlineMs: 150_000,
  s3DeadlineMs: 240_000,
  s3Replicas: 3,
  cpuRounds: 1,
  cpuSeconds: 2,
  anchorsDeadlineMs: 300_000,
  soak: { seconds: 30, sampleSeconds: 2, reportSeconds: 10, pushSeconds: 2 },
  soakDeadlineMs: 120_000,
};

/**
 * The groups of figures, each run or skipped whole (--only). `anchors` measures porthole against
 * the anchors of issue 20 (a bare Fastify server, nginx, the disk, one core's sha256) in a section
 * of its own (anchors.ts). `s3` measures porthole on S3 (s3rver) and Redis, one to three replicas
 * behind haproxy, against porthole on the filesystem and docker-registry's s3 driver, in a section
 * of its own (figures-s3.ts). `soak` runs mixed load for 10 minutes and records porthole's RSS
 * (soak.ts); opt-in only. `jobs` runs the batch jobs' own benchmarks (bench:gc, bench:scrub,
 * bench:backup) after the rest, printing their tables.
 */
export const FIGURE_GROUPS = ['get', 'transfer', 'ingest', 'listing', 'proxy', 'anchors', 's3', 'soak', 'jobs'] as const;
export type FigureGroup = (typeof FIGURE_GROUPS)[number];

/** Groups a plain run leaves out: they run only when --only names them. */
const OPT_IN_GROUPS: readonly FigureGroup[] = ['soak'];

/** The groups of the comparison with distribution: any of them starts both registries and writes that section. */
export const COMPARISON_GROUPS: readonly FigureGroup[] = ['get', 'transfer', 'ingest', 'listing', 'proxy'];

export function runsComparison(groups: Set<FigureGroup>): boolean {
  return COMPARISON_GROUPS.some((group) => groups.has(group));
}

/** The bound of a run of `groups`: the bounds of the comparison and of each group with a section of its own, added. */
export function deadlineOf(settings: BenchSettings, groups: Set<FigureGroup>): number {
  const own: Array<[FigureGroup, number]> = [
    ['anchors', settings.anchorsDeadlineMs],
    ['s3', settings.s3DeadlineMs],
    ['soak', settings.soakDeadlineMs],
  ];
  return (runsComparison(groups) ? settings.deadlineMs : 0) + own.reduce((sum, [group, ms]) => sum + (groups.has(group) ? ms : 0), 0);
}

export interface BenchArguments {
  settings: BenchSettings;
  /** The groups to measure: all but the opt-in ones unless --only names some (idle RSS is always measured with the comparison). */
  groups: Set<FigureGroup>;
  /** Where the results section is written: bench/RESULTS.md unless --results names another file. */
  resultsPath: string;
}

/** bench/RESULTS.md of the source tree (this module runs as dist/bench/lib/settings.js). */
const DEFAULT_RESULTS = fileURLToPath(new URL('../../../bench/RESULTS.md', import.meta.url));

const USAGE = `usage: run.js [--quick] [--results FILE] [--only ${FIGURE_GROUPS.join(',')}]`;

function parseGroups(list: string): Set<FigureGroup> {
  const groups = list.split(',').map((group) => group.trim());
  const unknown = groups.filter((group) => !(FIGURE_GROUPS as readonly string[]).includes(group));
  if (unknown.length > 0 || groups.length === 0) throw new Error(`unknown figure group ${unknown.join(', ')}; ${USAGE}`);
  // The jobs run after the other groups, whose sections they would otherwise overwrite with nothing.
  if (groups.every((group) => group === 'jobs')) throw new Error('to run only the batch jobs\' benchmarks, use npm run bench:gc, bench:scrub and bench:backup');
  return new Set(groups as FigureGroup[]);
}

/** `run.js [--quick] [--results FILE] [--only GROUPS]`. */
export function parseArguments(argv: string[]): BenchArguments {
  let resultsPath = DEFAULT_RESULTS;
  let quick = false;
  let groups = new Set<FigureGroup>(FIGURE_GROUPS.filter((group) => !OPT_IN_GROUPS.includes(group)));
  for (let i = 0; i < argv.length; i += 1) {
    const argument = argv[i];
    if (argument === '--quick') quick = true;
    else if (argument === '--results' && argv[i + 1] !== undefined) resultsPath = resolve(argv[(i += 1)] as string);
    else if (argument === '--only' && argv[i + 1] !== undefined) groups = parseGroups(argv[(i += 1)] as string);
    else throw new Error(`unknown argument ${argument}; ${USAGE}`);
  }
  return { settings: quick ? QUICK : FULL, groups, resultsPath };
}

export const MEBIBYTE = MiB;
