import { createRequire } from 'node:module';
import { boundText, meetsCheck, type AnchorCheck } from './anchor-check.js';
import type { AnchorsRun } from './anchors.js';
import { GET_ANCHOR_COLUMNS, GET_ANCHOR_RATIOS } from './figures-anchors-get.js';
import { PULL_COLUMNS } from './figures-curl-pull.js';
import { IDLE_MEMORY_COLUMNS } from './figures-idle-memory.js';
import { INGEST_ANCHOR_COLUMNS } from './figures-ingest-anchors.js';
import { LOG_COST_COLUMNS, type LogCostRun } from './figures-log-cost.js';
import { versionOf, type Machine } from './machine.js';
import { machineLines, noiseNote, noisyFigures, renderWideTable, samplesLine } from './report.js';
import type { BenchSettings } from './settings.js';

/** The heading that starts the anchors group's section of RESULTS.md; a new run replaces the section. */
export const ANCHORS_SECTION_HEADING = '## porthole against its anchors';

export interface AnchorsRecord {
  date: Date;
  settings: BenchSettings;
  machine: Machine;
  run: AnchorsRun;
  loadBefore: number;
  loadAfter: number;
  elapsedSeconds: number;
}

/** The issue's table: each anchor, what was measured, its bound, and whether it holds. */
export function renderChecks(checks: AnchorCheck[]): string {
  const value = (check: AnchorCheck): string => (Number.isFinite(check.value) ? `${check.value.toFixed(check.digits)}${check.unit === undefined ? '' : ` ${check.unit}`}` : 'did not work');
  const result = (check: AnchorCheck): string => (!Number.isFinite(check.value) ? '**FAIL**' : meetsCheck(check) ? 'pass' : '**FAIL**');
  return [
    '| figure (issue 20) | measured as | value | target | result |',
    '| --- | --- | --- | --- | --- |',
    ...checks.map((check) => `| ${check.name} | ${check.measure} | ${value(check)} | ${boundText(check)} | ${result(check)} |`),
  ].join('\n');
}

/** The access-log and metrics figures: each server's throughput and CPU per request, and its cost over its reference (as a ratio, and in µs). */
function renderLogCost(run: LogCostRun): string {
  const label = (name: string): string => LOG_COST_COLUMNS.find((column) => column.name === name)?.label ?? name;
  const rows = LOG_COST_COLUMNS.map(({ name }) => {
    const cost = run.costs.find((each) => each.of === name);
    const over = cost === undefined ? '' : `${cost.ratio.toFixed(3)} over ${label(cost.over)} (${cost.micros >= 0 ? '+' : '−'}${Math.abs(cost.micros).toFixed(1)} µs)`;
    return `| ${label(name)} | ${run.throughput.values[name].toFixed(0)} req/s | ${run.cpu.values[name].toFixed(1)} µs | ${over} |`;
  });
  return ['| GET manifest by tag | throughput | server CPU per request | CPU per request over its reference (median of rounds) |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function anchorVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const { version } = require('fastify/package.json') as { version: string };
  return { fastify: version, nginx: versionOf('nginx', ['-v'], /nginx\/(\S+)/) };
}

export function renderAnchorsTables(run: AnchorsRun): string {
  return [
    renderChecks(run.checks),
    '',
    renderWideTable(run.get.figures, GET_ANCHOR_COLUMNS, GET_ANCHOR_RATIOS),
    '',
    renderLogCost(run.logCost),
    '',
    renderWideTable([run.memory.figure], IDLE_MEMORY_COLUMNS, [{ label: 'all on / all off', of: 'all-on', over: 'minimal' }]),
    '',
    renderWideTable([run.pull.figure], PULL_COLUMNS, [
      { label: 'porthole / distribution', of: 'porthole', over: 'distribution' },
      { label: 'porthole / nginx', of: 'porthole', over: 'nginx-1' },
    ]),
    '',
    renderWideTable([run.ingest.figure], INGEST_ANCHOR_COLUMNS, []),
  ].join('\n');
}

export function renderAnchorsSection(record: AnchorsRecord): string {
  const { settings, run } = record;
  const mode = settings.quick ? ' (quick run: tiny sizes, one round: a smoke run, not a measurement)' : '';
  const command = `npm run bench -- ${settings.quick ? '--quick ' : ''}--only anchors`;
  const noisy = [
    ...noisyFigures(run.get.figures, GET_ANCHOR_COLUMNS),
    ...noisyFigures([run.logCost.cpu], LOG_COST_COLUMNS),
    ...noisyFigures([run.memory.figure], IDLE_MEMORY_COLUMNS),
    ...noisyFigures([run.pull.figure], PULL_COLUMNS),
    ...noisyFigures([run.ingest.figure], INGEST_ANCHOR_COLUMNS),
  ];
  return [
    `${ANCHORS_SECTION_HEADING} — ${record.date.toISOString().slice(0, 10)}${mode}`,
    '',
    ...machineLines(record.machine, anchorVersions()),
    `Command: \`${command}\` (part of a plain \`npm run bench\`; ${settings.pairs} round(s) taking the contenders in turn, medians; ${settings.loadSeconds} s load runs after a ${settings.warmupSeconds} s warm-up each; ${Math.round(record.elapsedSeconds)} s in all).`,
    '',
    'Everything on loopback. porthole is configured as the comparison\'s (log.level warn, full-mode metrics); porthole in its default configuration is the same with log.level info and its access lines going to a file (log.output), and content of its own. ' +
      'The Fastify ceiling is a process of its own (bench/lib/fastify-ceiling-server.ts: the fastify package porthole depends on, `logger: false`, one GET route answering porthole\'s manifest bytes and its content-type, docker-content-digest, etag, content-length and docker-distribution-api-version from memory, one HEAD route answering the blob\'s headers without a body). ' +
      'nginx serves porthole\'s own blob files (hard links into a tree laid out at the same URL paths) and its manifest bytes, with sendfile, no access log, the manifest\'s content type on /manifests/ paths, worker_processes 1 and auto. ' +
      'Blob and manifest GETs use the comparison\'s tools, connections and paths (figures-get.ts).',
    '',
    renderAnchorsTables(run),
    '',
    'Samples, in the order taken (the contenders in turn), with what the servers spent:',
    '',
    ...run.get.figures.map((figure) => samplesLine(figure, GET_ANCHOR_COLUMNS, true)),
    samplesLine(run.logCost.cpu, LOG_COST_COLUMNS, true),
    samplesLine(run.logCost.throughput, LOG_COST_COLUMNS, true),
    ...run.logCost.costs.map((cost) => `- CPU per request of ${cost.of} over ${cost.over}, per round: ${cost.rounds.map((ratio) => ratio.toFixed(3)).join(', ')}`),
    samplesLine(run.memory.figure, IDLE_MEMORY_COLUMNS, true),
    samplesLine(run.pull.figure, PULL_COLUMNS, true),
    samplesLine(run.ingest.figure, INGEST_ANCHOR_COLUMNS, true),
    '',
    'Notes:',
    `- Load average (1 min): ${record.loadBefore.toFixed(2)} before the group started, ${record.loadAfter.toFixed(2)} at the end.`,
    `- ${noiseNote(noisy)}`,
    `- Access lines and metrics: ${run.logCost.method}. "To stdout" is a pipe the harness reads and drops (the harness runs on wrk's core meanwhile); "to a file" is log.output on the local disk. The noise floor row is a second process configured as the reference: how far two identical processes differ. The Fastify ceilings answer the same manifest; the one with access lines writes porthole's fields through pino (\`pino.destination({ sync: false, minLength: 4096 })\`, one \`info\` call in an onResponse hook), the way issue 20 proposes, so its µs are what that way costs a line.`,
    '- Idle RSS, all on: full-mode metrics, tracing at samplingProb 1 to an OTLP sink in the harness, Basic auth from an htpasswd file, a pull-through upstream (never contacted while idle) and the UI; all off: minimal metrics mode, `extensions.ui.enable: false`, no tracing, auth or proxy.',
    '- The pull by curl: the manifest with one curl, then every layer by its own `curl -s -o /dev/null` at once; wall time from the first request to the last byte, after a sync; nginx serves porthole\'s files of the same image.',
    ...(run.ingest.tmpfsFailure === undefined ? [] : [`- porthole on tmpfs did not work: ${run.ingest.tmpfsFailure}.`]),
    '- The load tools share the 2 cores with the server they load: nginx with a worker per core and the Fastify ceiling can be bounded by wrk or ab rather than by themselves (their cores busy are given beside each figure).',
    '',
  ].join('\n');
}
