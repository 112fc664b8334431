import { readFile, writeFile } from 'node:fs/promises';
import type { ContenderName } from './contenders.js';
import { meetsTarget, ratioOf, spreadOf, targetText, type Figure } from './figure.js';
import type { Machine } from './machine.js';
import type { BenchSettings } from './settings.js';

/** The heading that starts this harness's section of RESULTS.md; a new run replaces the section. */
export const SECTION_HEADING = '## porthole against distribution';

/** Samples that disagree by more than this (max − min over median) are named in the notes. */
const NOISY_SPREAD = 0.1;

export interface RunRecord {
  date: Date;
  settings: BenchSettings;
  machine: Machine;
  figures: Figure[];
  /** 1-minute load average before the registries started, and at the end. */
  loadBefore: number;
  loadAfter: number;
  elapsedSeconds: number;
}

function cell(figure: Figure, name: ContenderName): string {
  return `${figure.values[name].toFixed(figure.digits)} ${figure.unit}`;
}

function verdict(figure: Figure): string {
  const met = meetsTarget(figure);
  return met === undefined ? 'reported' : met ? 'pass' : '**FAIL**';
}

export function renderTable(figures: Figure[]): string {
  const rows = figures.map((figure) =>
    [figure.name, cell(figure, 'porthole'), cell(figure, 'distribution'), ratioOf(figure).toFixed(2), figure.target ? targetText(figure.target) : '', verdict(figure)].join(' | '),
  );
  return ['| figure | porthole | distribution | porthole / distribution | target | result |', '| --- | --- | --- | --- | --- | --- |', ...rows.map((row) => `| ${row} |`)].join('\n');
}

function samplesLine(figure: Figure): string {
  const list = (name: ContenderName): string => figure.samples[name].map((value) => value.toFixed(figure.digits)).join(', ');
  const detail = figure.detail === undefined ? '' : `; ${figure.detail}`;
  return `- ${figure.name}: porthole ${list('porthole')}, distribution ${list('distribution')} ${figure.unit}${detail}`;
}

function noiseNotes(figures: Figure[]): string[] {
  const noisy = figures.flatMap((figure) =>
    (['porthole', 'distribution'] as ContenderName[])
      .filter((name) => spreadOf(figure.samples[name]) > NOISY_SPREAD)
      .map((name) => `${figure.name} (${name}: ${(spreadOf(figure.samples[name]) * 100).toFixed(0)}%)`),
  );
  return noisy.length === 0 ? [`No figure's samples disagreed by more than ${NOISY_SPREAD * 100}% (max − min over median).`] : [`Samples that disagreed by more than ${NOISY_SPREAD * 100}% (max − min over median): ${noisy.join('; ')}.`];
}

export function renderSection(record: RunRecord): string {
  const { settings, machine } = record;
  const versions = Object.entries(machine.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join('; ');
  const mode = settings.quick ? ' (quick run: tiny sizes, one pair: a smoke run, not a comparison)' : '';
  return [
    `${SECTION_HEADING} — ${record.date.toISOString().slice(0, 10)}${mode}`,
    '',
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, ${machine.system}.`,
    `Versions: ${versions}.`,
    `Command: \`npm run bench${settings.quick ? ' -- --quick' : ''}\` (${settings.pairs} alternating pair(s) per figure, medians; ${settings.loadSeconds} s load runs after a ${settings.warmupSeconds} s warm-up each; ${Math.round(record.elapsedSeconds)} s in all).`,
    '',
    renderTable(record.figures),
    '',
    'Samples, in the order taken (porthole and distribution alternating), with what the servers spent:',
    '',
    ...record.figures.map(samplesLine),
    '',
    'Notes:',
    `- Load average (1 min): ${record.loadBefore.toFixed(2)} before the registries started, ${record.loadAfter.toFixed(2)} at the end.`,
    `- ${noiseNotes(record.figures).join(' ')}`,
    '- The load tools share the 2 cores with the server they load: a figure where a server keeps fewer cores busy than the other may be bounded by the tool (ab is single-threaded), which compresses the ratio.',
    '',
  ].join('\n');
}

/**
 * Puts the section into the results file: in place of an earlier section of this harness, else
 * right after the file's title, above the other sections (kept as they are).
 */
export async function writeResults(path: string, section: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    text = '# Benchmark results\n\n';
  }
  const start = text.indexOf(SECTION_HEADING);
  if (start !== -1) {
    const next = text.indexOf('\n## ', start + SECTION_HEADING.length);
    text = text.slice(0, start) + (next === -1 ? '' : text.slice(next + 1));
  }
  const firstSection = text.indexOf('\n## ');
  const at = firstSection === -1 ? text.length : firstSection + 1;
  const before = text.slice(0, at);
  await writeFile(path, `${before}${before.endsWith('\n\n') ? '' : '\n'}${section}\n${text.slice(at)}`);
}
