import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AnchorCheck } from './anchor-check.js';
import { figureOf, sampleInTurn, type Figure } from './figure.js';
import { MB } from './figures-get.js';
import { startOtlpSink } from './otlp-sink.js';
import { IDLE_SETTLE_MS, residentBytes } from './process-memory.js';
import { startQuietPorthole } from './quiet-porthole.js';
import type { Column } from './report.js';
import type { BenchSettings } from './settings.js';

/**
 * porthole's resident memory at rest (issue 20, Memory): with every optional feature off, and with
 * the optional features a deployment turns on all on. Each sample is a fresh process, started,
 * left IDLE_SETTLE_MS to settle (as the comparison's idle figure), read (VmRSS) and stopped; the
 * two configurations are started in turn.
 */
export type IdleMemoryName = 'minimal' | 'all-on';

export const IDLE_MEMORY_COLUMNS: Array<Column<IdleMemoryName>> = [
  { name: 'minimal', label: 'every optional feature off' },
  { name: 'all-on', label: 'metrics, tracing, auth, proxy and UI on' },
];

/** Minimal metrics mode (no extensions.metrics), no UI, and no tracing, auth or proxy (absent: off). */
const MINIMAL = 'extensions:\n  ui:\n    enable: false\n';

/**
 * Full-mode metrics; tracing at samplingProb 1 to an OTLP sink in this process (idle, so nothing
 * is exported); Basic auth from an htpasswd file; a pull-through upstream (never contacted while
 * idle); the UI (on by default).
 */
function allOn(sinkUrl: string, htpasswd: string): string {
  return [
    'extensions:',
    '  metrics: {}',
    'tracing:',
    '  enable: true',
    `  endpoint: ${sinkUrl}`,
    '  samplingProb: 1',
    'auth:',
    '  htpasswd:',
    `    path: ${htpasswd}`,
    'proxy:',
    '  upstreams:',
    '    - name: upstream.invalid',
    '      url: http://127.0.0.1:9',
    '',
  ].join('\n');
}

export interface IdleMemoryRun {
  figure: Figure<IdleMemoryName>;
  checks: AnchorCheck[];
}

export async function idleMemoryFigures(dir: string, settings: BenchSettings): Promise<IdleMemoryRun> {
  console.error('bench: anchors: idle RSS, every optional feature off and all on');
  const htpasswd = join(dir, 'htpasswd');
  execFileSync('htpasswd', ['-cbB', htpasswd, 'bench', 'bench-password'], { stdio: 'ignore', timeout: 10_000 });
  const sink = await startOtlpSink();
  try {
    const configs: Record<IdleMemoryName, string> = { minimal: MINIMAL, 'all-on': allOn(sink.url, htpasswd) };
    const samples = await sampleInTurn<IdleMemoryName, { name: IdleMemoryName }>(
      settings.pairs,
      IDLE_MEMORY_COLUMNS.map(({ name }) => ({ name })),
      async ({ name }) => {
        const porthole = await startQuietPorthole(configs[name]);
        try {
          await sleep(IDLE_SETTLE_MS);
          return residentBytes(porthole.process.pid as number) / MB;
        } finally {
          await porthole.dispose();
        }
      },
    );
    const figure = figureOf('RSS idle after start (VmRSS)', 'MB', 0, samples);
    figure.detail = `each sample a fresh process, read ${IDLE_SETTLE_MS / 1000} s after it announced its start`;
    const checks: AnchorCheck[] = [
      { name: 'idle RSS with every optional feature off', measure: 'porthole, VmRSS', value: figure.values.minimal, digits: 0, unit: 'MB', kind: 'at-most', bound: 70 },
    ];
    return { figure, checks };
  } finally {
    await sink.close();
  }
}
