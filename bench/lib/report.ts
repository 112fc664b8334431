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

/** A contender's column in a table, and how its samples are named. */
export interface Column<N extends string> {
  name: N;
  label: string;
}

const COMPARISON: Array<Column<ContenderName>> = [
  { name: 'porthole', label: 'porthole' },
  { name: 'distribution', label: 'distribution' },
];

/**
 * One line of a figure's samples, contender by contender, and its detail: "a 1, 2, b 3, 4 unit"
 * for the comparison, or with `unitEach`, "a 1, 2 unit; b did not work; c —" for more contenders.
 */
export function samplesLine<N extends string>(figure: Figure<N>, columns: ReadonlyArray<Column<N>>, unitEach = false): string {
  const list = (name: N): string => {
    if (figure.failed?.[name] !== undefined) return 'did not work';
    if (figure.samples[name].length === 0) return '—';
    return figure.samples[name].map((value) => value.toFixed(figure.digits)).join(', ') + (unitEach ? ` ${figure.unit}` : '');
  };
  const detail = figure.detail === undefined ? '' : `; ${figure.detail}`;
  const lists = columns.map((column) => `${column.label} ${list(column.name)}`);
  return `- ${figure.name}: ${unitEach ? lists.join('; ') : `${lists.join(', ')} ${figure.unit}`}${detail}`;
}

/** The figures whose samples disagreed by more than NOISY_SPREAD, contender by contender ("figure (contender: 12%)"). */
export function noisyFigures<N extends string>(figures: ReadonlyArray<Figure<N>>, columns: ReadonlyArray<Column<N>>): string[] {
  return figures.flatMap((figure) =>
    columns
      .filter((column) => spreadOf(figure.samples[column.name]) > NOISY_SPREAD)
      .map((column) => `${figure.name} (${column.label}: ${(spreadOf(figure.samples[column.name]) * 100).toFixed(0)}%)`),
  );
}

/** The note on noise, of what noisyFigures found. */
export function noiseNote(noisy: string[]): string {
  return noisy.length === 0 ? `No figure's samples disagreed by more than ${NOISY_SPREAD * 100}% (max − min over median).` : `Samples that disagreed by more than ${NOISY_SPREAD * 100}% (max − min over median): ${noisy.join('; ')}.`;
}

/** The machine and the versions of what ran on it, as the first lines of a section. */
export function machineLines(machine: Machine, moreVersions: Record<string, string> = {}): string[] {
  const versions = Object.entries({ ...machine.versions, ...moreVersions })
    .map(([name, version]) => `${name} ${version}`)
    .join('; ');
  return [`Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, ${machine.system}.`, `Versions: ${versions}.`];
}

/** A ratio column: the value of contender `of` over that of `over`, on every row. */
export interface RatioColumn<N extends string> {
  label: string;
  of: N;
  over: N;
}

/**
 * A table of figures with a column per contender (the median, "did not work" for one that could
 * not be measured, "—" for one the figure does not apply to) and ratio columns.
 */
export function renderWideTable<N extends string>(figures: ReadonlyArray<Figure<N>>, columns: ReadonlyArray<Column<N>>, ratios: ReadonlyArray<RatioColumn<N>>): string {
  const value = (figure: Figure<N>, name: N): string => {
    if (figure.failed?.[name] !== undefined) return 'did not work';
    const median = figure.values[name];
    return Number.isNaN(median) ? '—' : `${median.toFixed(figure.digits)} ${figure.unit}`;
  };
  const ratio = (figure: Figure<N>, column: RatioColumn<N>): string => {
    const quotient = figure.values[column.of] / figure.values[column.over];
    return Number.isFinite(quotient) ? quotient.toFixed(2) : '—';
  };
  const header = ['figure', ...columns.map((column) => column.label), ...ratios.map((column) => column.label)];
  const rows = figures.map((figure) => [figure.name, ...columns.map((column) => value(figure, column.name)), ...ratios.map((column) => ratio(figure, column))]);
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function renderSection(record: RunRecord): string {
  const { settings, machine } = record;
  const mode = settings.quick ? ' (quick run: tiny sizes, one pair: a smoke run, not a comparison)' : '';
  return [
    `${SECTION_HEADING} — ${record.date.toISOString().slice(0, 10)}${mode}`,
    '',
    ...machineLines(machine),
    `Command: \`npm run bench${settings.quick ? ' -- --quick' : ''}\` (${settings.pairs} alternating pair(s) per figure, medians; ${settings.loadSeconds} s load runs after a ${settings.warmupSeconds} s warm-up each; ${Math.round(record.elapsedSeconds)} s in all).`,
    '',
    renderTable(record.figures),
    '',
    'Samples, in the order taken (porthole and distribution alternating), with what the servers spent:',
    '',
    ...record.figures.map((figure) => samplesLine(figure, COMPARISON)),
    '',
    'Notes:',
    `- Load average (1 min): ${record.loadBefore.toFixed(2)} before the registries started, ${record.loadAfter.toFixed(2)} at the end.`,
    `- ${noiseNote(noisyFigures(record.figures, COMPARISON))}`,
    '- The load tools share the 2 cores with the server they load: a figure where a server keeps fewer cores busy than the other may be bounded by the tool (ab is single-threaded), which compresses the ratio.',
    '',
  ].join('\n');
}

/**
 * Puts the section into the results file: in place of an earlier section with the same heading
 * (this harness's comparison unless `heading` names another), else right after the file's title,
 * above the other sections (kept as they are).
 */
export async function writeResults(path: string, section: string, heading = SECTION_HEADING): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    text = '# Benchmark results\n\n';
  }
  const start = text.indexOf(`${heading} `);
  if (start !== -1) {
    const next = text.indexOf('\n## ', start + heading.length);
    text = text.slice(0, start) + (next === -1 ? '' : text.slice(next + 1));
  }
  const firstSection = text.indexOf('\n## ');
  const at = firstSection === -1 ? text.length : firstSection + 1;
  const before = text.slice(0, at);
  await writeFile(path, `${before}${before.endsWith('\n\n') ? '' : '\n'}${section}\n${text.slice(at)}`);
}
