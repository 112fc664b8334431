import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianOfRoundRatios, type AnchorCheck } from './anchor-check.js';
import { startAnnouncedServer } from './announced-server.js';
import { PORTHOLE_CONFIG, type Contender } from './contenders.js';
import { figureOf, type Figure, type Samples } from './figure.js';
import { durableWriteBytesPerSecond, ingestRate, sha256BytesPerSecond, writeRandomFile } from './figures-ingest.js';
import { startQuietPorthole } from './quiet-porthole.js';
import type { Column } from './report.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';
import { mountTmpfs } from './tmpfs.js';

/**
 * A single blob's ingest against its physical bounds (issue 20), each measured in every round
 * beside it, so that the machine's drift falls on both: on the disk, against the disk's durable
 * write rate (dd conv=fsync of as many bytes into the same filesystem); on a tmpfs, where no disk
 * bounds it, against one core's sha256 (openssl speed, as figures-ingest.ts). Each share is the
 * median over rounds of the round's ingest rate over the round's bound. Beside sha256 runs the
 * Node.js ceiling (hash-sink-server.ts: hashing on the event loop, storing nothing), which says how
 * much of that bound any registry that hashes on its event loop can have on this machine.
 */
export type IngestAnchorName = 'porthole-disk' | 'dd' | 'porthole-tmpfs' | 'sha256' | 'hash-sink';

const HASH_SINK_SCRIPT = fileURLToPath(new URL('./hash-sink-server.js', import.meta.url));

export const INGEST_ANCHOR_COLUMNS: Array<Column<IngestAnchorName>> = [
  { name: 'porthole-disk', label: 'porthole, storage on the disk' },
  { name: 'dd', label: 'dd conv=fsync (the disk)' },
  { name: 'porthole-tmpfs', label: 'porthole, storage on tmpfs' },
  { name: 'sha256', label: "one core's sha256 (openssl speed, 16 KiB blocks)" },
  { name: 'hash-sink', label: 'Node.js ceiling (node:http hashing the body, storing nothing)' },
];

export interface IngestAnchorRun {
  figure: Figure<IngestAnchorName>;
  checks: AnchorCheck[];
  /** Why porthole on tmpfs could not be measured, when it could not. */
  tmpfsFailure?: string;
}

/**
 * `porthole` is the group's porthole (the comparison's configuration, storage in a temp dir on the
 * disk); a second one, configured alike, gets its storage on a tmpfs mounted under `dir`, which
 * `track` unmounts at the end. The tmpfs holds every sample's blob (none is deleted). The hash
 * sink is a third process, stopped at the end.
 */
export async function ingestAnchorFigures(porthole: Contender<string>, dir: string, settings: BenchSettings, track: (what: string, step: () => Promise<void>) => void): Promise<IngestAnchorRun> {
  const bytes = settings.ingestBytes;
  const size = bytes / MEBIBYTE;
  const file = join(dir, 'anchors-ingest.bin');
  await writeRandomFile(file, bytes);
  let tmpfsPorthole: Awaited<ReturnType<typeof startQuietPorthole>> | undefined;
  let tmpfsFailure: string | undefined;
  try {
    const mountPoint = join(dir, 'tmpfs');
    await mkdir(mountPoint);
    const unmount = await mountTmpfs(mountPoint, bytes * (settings.pairs + 1) + 256 * MEBIBYTE);
    track('unmount the tmpfs', unmount);
    const started = await startQuietPorthole(PORTHOLE_CONFIG, { root: join(mountPoint, 'data') });
    track('stop porthole on tmpfs', () => started.dispose());
    tmpfsPorthole = started;
  } catch (err) {
    tmpfsFailure = (err as Error).message.split('\n')[0];
  }
  const hashSink = await startAnnouncedServer(HASH_SINK_SCRIPT, [], 'the hash sink');
  track('stop the hash sink', () => hashSink.stop());

  console.error(`bench: anchors: ingest of a ${size} MiB blob, on the disk against dd and on tmpfs against sha256`);
  const samples: Samples<IngestAnchorName> = { 'porthole-disk': [], dd: [], 'porthole-tmpfs': [], sha256: [], 'hash-sink': [] };
  for (let round = 0; round < settings.pairs; round += 1) {
    samples.dd.push((await durableWriteBytesPerSecond(dir, bytes)) / MEBIBYTE);
    samples['porthole-disk'].push(await ingestRate(porthole.url, file, bytes));
    samples.sha256.push((await sha256BytesPerSecond(settings.quick ? 1 : 3)) / MEBIBYTE);
    if (tmpfsPorthole !== undefined) samples['porthole-tmpfs'].push(await ingestRate(tmpfsPorthole.url, file, bytes));
    samples['hash-sink'].push(await ingestRate(hashSink.url, file, bytes));
  }
  const figure = figureOf(`ingest of one ${size} MiB blob (POST, then curl -T file: PUT), and its bounds`, 'MiB/s', 0, samples);
  if (tmpfsFailure !== undefined) figure.failed = { 'porthole-tmpfs': tmpfsFailure };
  const diskShare = medianOfRoundRatios(samples['porthole-disk'], samples.dd);
  const tmpfsShare = medianOfRoundRatios(samples['porthole-tmpfs'], samples.sha256);
  const perRound = (of: IngestAnchorName, over: IngestAnchorName): string => samples[of].map((value, round) => (value / (samples[over][round] as number)).toFixed(2)).join(', ');
  figure.detail = `per round, porthole on the disk over dd: ${perRound('porthole-disk', 'dd')}; porthole on tmpfs over sha256: ${tmpfsFailure === undefined ? perRound('porthole-tmpfs', 'sha256') : 'did not work'}; the Node.js ceiling over sha256: ${perRound('hash-sink', 'sha256')}, so the most a registry hashing on its event loop can reach here (median ${medianOfRoundRatios(samples['hash-sink'], samples.sha256).toFixed(2)}); porthole on tmpfs over the Node.js ceiling: ${tmpfsFailure === undefined ? perRound('porthole-tmpfs', 'hash-sink') : 'did not work'}`;
  const checks: AnchorCheck[] = [
    { name: `ingest of one ${size} MiB blob, as a share of the disk's dd conv=fsync rate`, measure: 'porthole on the disk / dd, median over rounds', value: diskShare, digits: 2, kind: 'at-least', bound: 0.95 },
    { name: "the same ingest on tmpfs, as a share of one core's sha256", measure: 'porthole on tmpfs / openssl sha256, median over rounds', value: tmpfsShare, digits: 2, kind: 'at-least', bound: 0.6 },
  ];
  return { figure, checks, ...(tmpfsFailure === undefined ? {} : { tmpfsFailure }) };
}
