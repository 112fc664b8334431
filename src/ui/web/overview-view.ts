import { getJson } from './api.js';
import { append, facts, fill, h, notice, table } from './dom.js';
import { bytes, count, duration, when } from './format.js';
import type { Column, JobRun, Series, Summary } from './management-types.js';
import { uPlot, type Chart, type ChartData, type ChartOptions } from './uplot.js';

interface ChartSpec {
  id: string;
  title: string;
  /** The unit of the y axis, for its labels and for the text summary. */
  format: (value: number) => string;
  lines: Array<{ label: string; column: (series: Series['series']) => Column; scale?: number }>;
  note?: (series: Series) => string | undefined;
}

const perSecond = (value: number): string => `${value.toFixed(value < 10 ? 2 : 0)}/s`;
const milliseconds = (value: number): string => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
const percent = (value: number): string => `${value.toFixed(0)} %`;

const CHARTS: ChartSpec[] = [
  {
    id: 'requests',
    title: 'Request rate (/v2)',
    format: perSecond,
    lines: [
      { label: 'requests', column: (s) => s.requestsPerSecond },
      { label: '5xx errors', column: (s) => s.serverErrorsPerSecond },
    ],
  },
  {
    id: 'latency',
    title: 'Latency percentiles (/v2)',
    format: milliseconds,
    lines: [
      { label: 'p50', column: (s) => s.latencyP50Seconds, scale: 1000 },
      { label: 'p90', column: (s) => s.latencyP90Seconds, scale: 1000 },
      { label: 'p99', column: (s) => s.latencyP99Seconds, scale: 1000 },
    ],
  },
  {
    id: 'pulls',
    title: 'Pulls and pushes',
    format: perSecond,
    lines: [
      { label: 'manifest pulls', column: (s) => s.manifestPullsPerSecond },
      { label: 'blob pulls', column: (s) => s.blobPullsPerSecond },
      { label: 'manifest pushes', column: (s) => s.pushesPerSecond },
    ],
  },
  {
    id: 'cache',
    title: 'Cache hit ratio',
    format: percent,
    lines: [{ label: 'pulls served from the cache', column: (s) => s.cacheHitRatio, scale: 100 }],
    note: (series) => (series.series.cacheHitRatio.some((value) => value !== null) ? undefined : 'No pull through the cache in this window (only a pull-through cache, with a proxy section, has one).'),
  },
  {
    id: 'bytes',
    title: 'Bytes stored',
    format: bytes,
    lines: [{ label: 'blobs and manifests', column: (s) => s.bytesStored }],
  },
];

/** Colours that keep their contrast on the light and the dark background alike. */
const PALETTE = ['#2f6fd6', '#d6452f', '#1f9d6b', '#a35ad8'];

function cssColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#666';
}

function chartData(series: Series, spec: ChartSpec): ChartData {
  const columns = spec.lines.map(({ column, scale }) => column(series.series).map((value) => (value === null ? null : value * (scale ?? 1))));
  return [series.series.time, ...columns] as ChartData;
}

function latest(column: Column): number | null {
  for (let index = column.length - 1; index >= 0; index -= 1) if (column[index] !== null) return column[index] as number;
  return null;
}

class LiveChart {
  private chart: Chart | undefined;
  readonly figure: HTMLElement;
  private readonly plot: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly noteText: HTMLElement;

  constructor(private readonly spec: ChartSpec) {
    this.plot = h('div', { class: 'plot', 'data-chart': spec.id, 'aria-hidden': 'true' });
    this.summary = h('p', { class: 'chart-summary', 'aria-live': 'off' });
    this.noteText = h('p', { class: 'chart-note' });
    this.figure = h('figure', { class: 'chart', 'aria-labelledby': `chart-${spec.id}` }, h('figcaption', { id: `chart-${spec.id}` }, spec.title), this.summary, this.plot, this.noteText);
  }

  update(series: Series): void {
    const data = chartData(series, this.spec);
    if (this.chart === undefined) this.create(data);
    else this.chart.setData(data);
    const lines = this.spec.lines.map(({ label, column, scale }) => {
      const value = latest(column(series.series));
      return `${label}: ${value === null ? 'no data' : this.spec.format(value * (scale ?? 1))}`;
    });
    this.summary.textContent = `Latest: ${lines.join('; ')}`;
    this.noteText.textContent = this.spec.note?.(series) ?? '';
  }

  /** Sized to its box; re-created when the colour scheme changes (axes take their colours then). */
  create(data: ChartData = this.chart?.data ?? [[]]): void {
    this.chart?.destroy();
    const axis = { stroke: cssColor('--muted'), grid: { stroke: cssColor('--grid'), width: 1 }, ticks: { stroke: cssColor('--grid'), width: 1 } };
    const options: ChartOptions = {
      width: Math.max(240, this.plot.clientWidth || 300),
      height: 180,
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 70, values: (_chart, values) => values.map((value) => (value === null ? '' : this.spec.format(value))) }],
      legend: { show: true, live: false },
      cursor: { show: true, points: { show: false } },
      series: [{}, ...this.spec.lines.map(({ label }, index) => ({ label, stroke: PALETTE[index % PALETTE.length] as string, width: 2, spanGaps: false }))],
    };
    this.chart = new uPlot(options, data, this.plot);
  }

  resize(): void {
    if (this.chart !== undefined && this.plot.clientWidth > 0) this.chart.setSize({ width: this.plot.clientWidth, height: 180 });
  }

  destroy(): void {
    this.chart?.destroy();
  }
}

function summaryFacts(summary: Summary): HTMLElement {
  return facts([
    ['Repositories', count(summary.repositories)],
    ['Tags', count(summary.tags)],
    ['Manifests', count(summary.manifests)],
    ['Blobs', count(summary.blobs)],
    ['Bytes stored', bytes(summary.bytesStored)],
    ['Garbage (gc would free)', summary.garbageBytes === null ? 'not computed yet' : bytes(summary.garbageBytes)],
    ['Uploads in progress', count(summary.uploadsInProgress)],
    ['Mode', summary.mode === 'cache' ? 'pull-through cache' : 'hosted'],
    ['Version', summary.version],
    ['Up for', duration(summary.uptimeSeconds)],
    ['Figures of', when(summary.computedAt)],
  ]);
}

function jobsTable(jobs: JobRun[]): HTMLElement {
  if (jobs.length === 0) return notice('info', 'No job has run on this storage yet (gc, scrub, backup, restore, prune: see docs/jobs.md).');
  return table(
    'Last job runs, newest first',
    ['Job', 'Trigger', 'Outcome', 'Ended', 'Took', 'Figures'],
    jobs.map((job) => [
      job.action,
      job.trigger,
      h('span', { class: `outcome ${job.outcome}` }, job.outcome),
      when(job.endedAt),
      duration(job.seconds),
      job.error ?? Object.entries(job.summary).map(([key, value]) => `${key} ${String(value)}`).join(', '),
    ]),
    { numeric: [4] },
  );
}

/** The overview: storage figures, live charts and the last job runs, refreshed every sample interval. */
export function renderOverview(main: HTMLElement): () => void {
  const summaryBox = h('div', { class: 'summary' }, 'Loading…');
  const modeNote = h('div', {});
  const charts = CHARTS.map((spec) => new LiveChart(spec));
  const jobsBox = h('div', {}, 'Loading…');
  append(
    main,
    h('h1', { tabindex: -1 }, 'Overview'),
    h('section', { 'aria-labelledby': 'storage-heading' }, h('h2', { id: 'storage-heading' }, 'Storage'), summaryBox),
    h('section', { 'aria-labelledby': 'live-heading' }, h('h2', { id: 'live-heading' }, 'Last 30 minutes'), modeNote, h('div', { class: 'charts' }, ...charts.map((chart) => chart.figure))),
    h('section', { 'aria-labelledby': 'jobs-heading' }, h('h2', { id: 'jobs-heading' }, 'Last job runs'), jobsBox),
  );

  let stopped = false;
  let timer: number | undefined;
  const refresh = async (): Promise<void> => {
    let intervalMs = 5000;
    const [summary, series, jobs] = await Promise.allSettled([getJson<Summary>('../api/v1/summary'), getJson<Series>('../api/v1/series'), getJson<{ jobs: JobRun[] }>('../api/v1/jobs?limit=10')]);
    if (stopped) return;
    fill(summaryBox, summary.status === 'fulfilled' ? summaryFacts(summary.value) : notice('error', `Storage figures unavailable: ${(summary.reason as Error).message}`));
    if (series.status === 'fulfilled') {
      const value = series.value;
      intervalMs = value.intervalSeconds * 1000;
      for (const chart of charts) chart.update(value);
      fill(
        modeNote,
        value.mode === 'minimal' && !value.collecting
          ? notice('info', 'Minimal metrics mode, and no exporter is scraping: per-request figures (requests, latency, pulls, pushes, cache hits) are not collected now, so their charts are empty. Bytes stored and jobs are shown.')
          : value.series.time.length < 2
            ? notice('info', `Sampled every ${value.intervalSeconds} s: the charts fill in as samples arrive.`)
            : null,
      );
    } else fill(modeNote, notice('error', `Live figures unavailable: ${(series.reason as Error).message}`));
    fill(jobsBox, jobs.status === 'fulfilled' ? jobsTable(jobs.value.jobs) : notice('error', `Job runs unavailable: ${(jobs.reason as Error).message}`));
    // Only while the page is seen: a hidden tab polls nothing.
    if (!stopped) timer = window.setTimeout(() => void (document.hidden ? waitVisible() : refresh()), intervalMs);
  };
  const waitVisible = (): void => {
    document.addEventListener('visibilitychange', () => void refresh(), { once: true });
  };
  void refresh();

  const resizer = new ResizeObserver(() => charts.forEach((chart) => chart.resize()));
  for (const chart of charts) resizer.observe(chart.figure);
  const scheme = window.matchMedia('(prefers-color-scheme: dark)');
  const recolour = (): void => charts.forEach((chart) => chart.create());
  scheme.addEventListener('change', recolour);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    resizer.disconnect();
    scheme.removeEventListener('change', recolour);
    charts.forEach((chart) => chart.destroy());
  };
}
