import type { Machine } from './machine.js';
import { machineLines } from './report.js';
import type { BenchSettings } from './settings.js';
import type { RssSample, SoakRun } from './soak.js';

/** The heading that starts the soak's section of RESULTS.md; a new run replaces the section. */
export const SOAK_SECTION_HEADING = '## porthole under a soak of mixed load';

/**
 * What "keeps RSS flat" is held to: RSS at the end at most this much over RSS at the first row
 * (one report interval in, once caches and the JIT have warmed). The issue gives no number; this
 * is the harness's reading of "flat".
 */
const FLAT_GROWTH = 1.1;

export interface SoakRecord {
  date: Date;
  settings: BenchSettings;
  machine: Machine;
  run: SoakRun;
  loadBefore: number;
  loadAfter: number;
  elapsedSeconds: number;
}

interface CurveRow {
  at: number;
  /** The reading at that time (the last one at or before it). */
  now: number;
  /** The highest reading since the previous row. */
  highest: number;
}

/** The curve at every `every` seconds: RSS then, and the highest since the row before. */
export function curveOf(samples: RssSample[], every: number, seconds: number): CurveRow[] {
  const rows: CurveRow[] = [];
  for (let at = every; at <= seconds; at += every) {
    const upTo = samples.filter((sample) => sample.seconds <= at + 1);
    const since = upTo.filter((sample) => sample.seconds > at - every + 1);
    const last = upTo[upTo.length - 1];
    if (last === undefined) continue;
    rows.push({ at, now: last.megabytes, highest: Math.max(...(since.length === 0 ? [last] : since).map((sample) => sample.megabytes)) });
  }
  return rows;
}

function timeText(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

export function renderSoakTable(run: SoakRun, settings: BenchSettings): string {
  const rows = curveOf(run.samples, settings.soak.reportSeconds, settings.soak.seconds);
  const first = run.samples[0] as RssSample;
  return [
    '| time under load | RSS (VmRSS) | highest RSS since the row before |',
    '| --- | --- | --- |',
    `| 0 (before the load) | ${first.megabytes.toFixed(0)} MB | |`,
    ...rows.map((row) => `| ${timeText(row.at)} | ${row.now.toFixed(0)} MB | ${row.highest.toFixed(0)} MB |`),
  ].join('\n');
}

/** RSS at the end over RSS at the first row, and whether it stays within FLAT_GROWTH. */
export function growthOf(run: SoakRun, settings: BenchSettings): { growth: number; flat: boolean } {
  const rows = curveOf(run.samples, settings.soak.reportSeconds, settings.soak.seconds);
  const growth = rows.length < 2 ? Number.NaN : (rows[rows.length - 1] as CurveRow).now / (rows[0] as CurveRow).now;
  return { growth, flat: growth <= FLAT_GROWTH };
}

export function renderSoakSection(record: SoakRecord): string {
  const { settings, run } = record;
  const { seconds, sampleSeconds, pushSeconds, reportSeconds } = settings.soak;
  const mode = settings.quick ? ' (quick run: a short soak, a smoke run, not a measurement)' : '';
  const { growth, flat } = growthOf(run, settings);
  return [
    `${SOAK_SECTION_HEADING} — ${record.date.toISOString().slice(0, 10)}${mode}`,
    '',
    ...machineLines(record.machine),
    `Command: \`npm run bench -- ${settings.quick ? '--quick ' : ''}--only soak\` (${Math.round(record.elapsedSeconds)} s in all).`,
    '',
    `One porthole configured as the comparison's (log.level warn, full-mode metrics, storage in a temp dir), for ${timeText(seconds)} under, all at once: ` +
      `wrk -t1 -c8 GETs of a manifest by tag, wrk -t1 -c4 GETs of a 1 MiB blob, and a push ${pushSeconds} s after the end of the previous one (a new 256 KiB layer, a config and a manifest under a new tag). ` +
      `VmRSS read every ${sampleSeconds} s; a row every ${timeText(reportSeconds)}.`,
    '',
    renderSoakTable(run, settings),
    '',
    `- RSS at the end over RSS at ${timeText(reportSeconds)}: ${growth.toFixed(2)} (flat: at most ${FLAT_GROWTH}, the harness's reading of the issue's "keeps RSS flat"): ${flat ? 'pass' : '**FAIL**'}.`,
    `- Highest RSS over the soak (VmHWM, restarted after the content was loaded): ${run.peakMegabytes.toFixed(0)} MB.`,
    `- The load it carried: ${run.manifests.requestsPerSecond.toFixed(0)} manifest GETs/s and ${(run.blobs.bytesPerSecond / 1024 / 1024).toFixed(0)} MiB/s of blob GETs on average (${run.manifests.requests + run.blobs.requests} requests, every answer a 2xx), ${run.pushes} pushes.`,
    `- Every reading (s: MB): ${run.samples.map((sample) => `${sample.seconds}: ${sample.megabytes.toFixed(0)}`).join(', ')}.`,
    `- Load average (1 min): ${record.loadBefore.toFixed(2)} before the soak, ${record.loadAfter.toFixed(2)} at the end.`,
    '',
  ].join('\n');
}
