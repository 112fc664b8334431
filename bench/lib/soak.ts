import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeImage, OCI_MANIFEST } from '../../test/helpers/registry-client.js';
import { PORTHOLE_CONFIG } from './contenders.js';
import { MB } from './figures-get.js';
import { peakResidentBytes, resetPeakResident, residentBytes } from './process-memory.js';
import { startQuietPorthole } from './quiet-porthole.js';
import { MEBIBYTE, type BenchSettings } from './settings.js';
import { runWrk, type WrkResult } from './wrk.js';

/**
 * The soak of issue 20's Memory section: mixed load on one porthole (configured as the
 * comparison's) for `settings.soak.seconds`, its RSS read every `sampleSeconds`, so that a curve
 * shows whether memory stays flat under hours-like use. The load, all at once for the whole time:
 *  - wrk -t1 -c8 GETs of a manifest by tag;
 *  - wrk -t1 -c4 GETs of a 1 MiB blob;
 *  - a push `pushSeconds` after the end of the previous one (two blobs, one of them a new 256 KiB
 *    layer, and a manifest under a new tag), so that the manifest and tag caches, upload sessions
 *    and per-repository metrics see new content throughout.
 * On a 2-core machine shared with the two wrks this keeps porthole busy, not idle.
 */

const REPO = 'bench/soak';
const PUSH_REPO = 'bench/soak-pushes';
const PUSH_LAYER_BYTES = 256 * 1024;

/** One reading of porthole's RSS, at `seconds` after the load started. */
export interface RssSample {
  seconds: number;
  megabytes: number;
}

export interface SoakRun {
  /** The reading before the load, then one every sampleSeconds. */
  samples: RssSample[];
  /** VmHWM at the end: the highest RSS over the whole soak (restarted after the content was loaded). */
  peakMegabytes: number;
  manifests: WrkResult;
  blobs: WrkResult;
  pushes: number;
}

/** Pushes one small image every `everyMs` until `until` (performance.now), counting them. */
async function keepPushing(url: string, everyMs: number, until: number): Promise<number> {
  let pushes = 0;
  while (performance.now() + everyMs < until) {
    await sleep(everyMs);
    await makeImage(url, PUSH_REPO, { tag: `p${pushes}`, layerSize: PUSH_LAYER_BYTES });
    pushes += 1;
  }
  return pushes;
}

/** Reads `pid`'s RSS every `everyMs` from `started` until `until`. */
async function sampleRss(pid: number, everyMs: number, started: number, until: number): Promise<RssSample[]> {
  const samples: RssSample[] = [];
  for (let next = started + everyMs; next <= until + 1; next += everyMs) {
    await sleep(Math.max(0, next - performance.now()));
    samples.push({ seconds: Math.round((performance.now() - started) / 1000), megabytes: residentBytes(pid) / MB });
  }
  return samples;
}

function checked(result: WrkResult, what: string): WrkResult {
  if (result.non2xx > 0 || result.socketErrors > 0) throw new Error(`soak: ${what}: ${result.non2xx} non-2xx answers, ${result.socketErrors} socket errors`);
  return result;
}

export async function soakFigures(settings: BenchSettings, track: (what: string, stop: () => Promise<void>) => void): Promise<SoakRun> {
  const { seconds, sampleSeconds, pushSeconds } = settings.soak;
  const porthole = await startQuietPorthole(PORTHOLE_CONFIG);
  track('stop the soaked porthole', () => porthole.dispose());
  const pid = porthole.process.pid as number;
  const image = await makeImage(porthole.url, REPO, { tag: 'v1', layerSize: MEBIBYTE, blobStyle: 'post-put' });
  const before: RssSample = { seconds: 0, megabytes: residentBytes(pid) / MB };
  // The peak that counts is the soak's, not the loading's.
  resetPeakResident(pid);

  console.error(`bench: soak: ${seconds} s of mixed load, RSS every ${sampleSeconds} s`);
  const started = performance.now();
  const until = started + seconds * 1000;
  // wrk's own bound is its duration; its answer timeout keeps a slow answer from counting as an error.
  const load = { seconds, timeoutSeconds: 30 };
  const [manifests, blobs, pushes, samples] = await Promise.all([
    runWrk(`${porthole.url}/v2/${REPO}/manifests/v1`, { ...load, threads: 1, connections: 8, headers: { accept: OCI_MANIFEST } }),
    runWrk(`${porthole.url}/v2/${REPO}/blobs/${image.layerDigest}`, { ...load, threads: 1, connections: 4 }),
    keepPushing(porthole.url, pushSeconds * 1000, until),
    sampleRss(pid, sampleSeconds * 1000, started, until),
  ]);
  return {
    samples: [before, ...samples],
    peakMegabytes: peakResidentBytes(pid) / MB,
    manifests: checked(manifests, 'manifest GETs'),
    blobs: checked(blobs, 'blob GETs'),
    pushes,
  };
}
