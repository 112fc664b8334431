import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../test/e2e/run-command.js';
import { startUpload, withQuery } from '../../test/helpers/registry-client.js';
import type { Contenders } from './contenders.js';
import { flushDirtyPages } from './dirty-pages.js';
import { figureOf, sampleAlternately, type Figure } from './figure.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';

/**
 * How close a push gets to the physical limit: a registry must hash every byte it takes in with
 * sha256, on one core (a hash is sequential), so one core's sha256 rate bounds a single blob's
 * ingest. The figures: each registry's rate for one large blob PUT with curl from a local file,
 * and that rate as a share of `openssl speed -evp sha256` (its 16384-byte column).
 */

/** One core's sha256 rate in bytes per second, from openssl's machine-readable output (+F:n:sha256:bytes/s). */
export async function sha256BytesPerSecond(seconds: number): Promise<number> {
  const { stdout } = await runCommand('openssl', ['speed', '-mr', '-evp', 'sha256', '-bytes', '16384', '-seconds', String(seconds)], { timeoutMs: (seconds + 30) * 1000 });
  const match = /^\+F:\d+:sha256:([\d.]+)/m.exec(stdout);
  if (!match) throw new Error(`openssl speed: no +F line in:\n${stdout}`);
  return Number(match[1]);
}

/**
 * The other physical bound: how fast this disk takes `bytes` durably (dd from /dev/zero with
 * conv=fsync, into `dir`, on the registries' filesystem), in bytes per second. A registry that
 * fsyncs a blob before answering 201 cannot ingest faster than this, whatever its hashing rate.
 */
export async function durableWriteBytesPerSecond(dir: string, bytes: number): Promise<number> {
  const file = join(dir, 'dd-durable-write.bin');
  try {
    const args = ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${Math.ceil(bytes / MEBIBYTE)}`, 'conv=fsync'];
    const { stderr } = await runCommand('dd', args, { timeoutMs: 300_000 });
    const match = /^(\d+) bytes .* copied, ([\d.]+) s/m.exec(stderr);
    if (!match) throw new Error(`dd: no summary in:\n${stderr}`);
    return Number(match[1]) / Number(match[2]);
  } finally {
    await rm(file, { force: true });
  }
}

const CHUNK = 64 * MEBIBYTE;

/** A file of `bytes` random bytes, written in chunks (never the whole in memory). */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (let written = 0; written < bytes; written += CHUNK) {
      const length = Math.min(CHUNK, bytes - written);
      randomFillSync(chunk, 0, length);
      await file.write(chunk, 0, length);
    }
  } finally {
    await file.close();
  }
}

/**
 * Makes the file a blob neither registry has seen (new random first bytes), so that no sample can
 * be answered from an existing blob, and returns its digest.
 */
async function renewBlob(path: string): Promise<string> {
  const file = await open(path, 'r+');
  try {
    await file.write(randomBytes(32), 0, 32, 0);
  } finally {
    await file.close();
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MEBIBYTE })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * PUT <location>?digest= with the file as body, streamed by curl -T (--data-binary @file would
 * read it whole into memory first, and curl 7.88 refuses 1 GiB that way: "out of memory"); the
 * file was just hashed, so it is read from the page cache. Seconds from curl's own clock
 * (time_total). "Expect:" is emptied so that curl sends at once instead of waiting for a 100 Continue.
 */
async function curlPut(url: string, file: string): Promise<number> {
  const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-H', 'Content-Type: application/octet-stream', '-H', 'Expect:', '-T', file, url];
  const { stdout } = await runCommand('curl', args, { timeoutMs: 300_000 });
  const [status, seconds] = stdout.trim().split(' ');
  if (status !== '201') throw new Error(`curl PUT ${url}: status ${status}`);
  return Number(seconds);
}

function percentOf(value: number, bound: number): string {
  return ((value / bound) * 100).toFixed(0);
}

/** The machine's bounds on ingest, in bytes per second. */
export interface IngestBounds {
  sha256: number;
  durableWrite: number;
}

/**
 * One sample: the file made a new blob, then POST and a PUT of all of it to the registry at
 * `url`, after a sync (so that it does not pay for earlier writes); MiB/s by curl's clock.
 */
export async function ingestRate(url: string, file: string, bytes: number): Promise<number> {
  const digest = await renewBlob(file);
  const location = await startUpload(url, 'bench/ingest');
  await flushDirtyPages();
  const seconds = await curlPut(new URL(withQuery(location, `digest=${digest}`), url).toString(), file);
  return bytes / seconds / MEBIBYTE;
}

export async function ingestFigures(contenders: Contenders, file: string, bounds: IngestBounds, settings: BenchSettings): Promise<Figure[]> {
  const size = settings.ingestBytes / MEBIBYTE;
  console.error(`bench: ingest of a ${size} MiB blob`);
  const samples = await sampleAlternately(settings.pairs, contenders, (contender) => ingestRate(contender.url, file, settings.ingestBytes));
  const rate = figureOf(`ingest of one ${size} MiB blob (POST, then curl -T file: PUT)`, 'MiB/s', 0, samples);
  const durable = bounds.durableWrite / MEBIBYTE;
  rate.detail = `the disk's durable write rate (dd conv=fsync of ${size} MiB): ${durable.toFixed(0)} MiB/s, so porthole ${percentOf(rate.values.porthole, durable)}%, distribution ${percentOf(rate.values.distribution, durable)}% of it`;
  const share = (values: number[]): number[] => values.map((value) => ((value * MEBIBYTE) / bounds.sha256) * 100);
  const shareFigure = figureOf(
    `that ingest rate as a share of one core's sha256 (openssl speed, 16 KiB blocks: ${(bounds.sha256 / MEBIBYTE).toFixed(0)} MiB/s)`,
    '%',
    0,
    { porthole: share(samples.porthole), distribution: share(samples.distribution) },
    { kind: 'porthole-at-least', bound: 70, unit: '%' },
  );
  return [rate, shareFigure];
}
