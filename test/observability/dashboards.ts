import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's observability/ directory (tests run from dist/test/observability/). */
export const OBSERVABILITY_DIR = fileURLToPath(new URL('../../../observability/', import.meta.url));
export const DOCS_DIR = fileURLToPath(new URL('../../../docs/', import.meta.url));
export const DASHBOARD_FILES = ['runtime.json', 'registry.json'];

export interface DashboardTarget {
  refId: string;
  expr: string;
  exemplar?: boolean;
  instant?: boolean;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface DashboardVariable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  includeAll?: boolean;
  allValue?: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  __inputs?: unknown;
  templating: { list: DashboardVariable[] };
  panels: DashboardPanel[];
}

export interface LoadedDashboard {
  file: string;
  dashboard: Dashboard;
}

export async function loadDashboards(): Promise<LoadedDashboard[]> {
  return Promise.all(
    DASHBOARD_FILES.map(async (file) => ({ file, dashboard: JSON.parse(await readFile(join(OBSERVABILITY_DIR, 'grafana/dashboards', file), 'utf8')) as Dashboard })),
  );
}

/** Every panel, those nested in collapsed rows included. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export interface PanelQuery {
  file: string;
  panel: DashboardPanel;
  target: DashboardTarget;
}

export function panelQueries(loaded: LoadedDashboard[]): PanelQuery[] {
  return loaded.flatMap(({ file, dashboard }) => allPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => ({ file, panel, target }))));
}

/** The PromQL of a query variable: label_values(metric, label), as Grafana's Prometheus editor stores it. */
export function variableQuery(variable: DashboardVariable): string | undefined {
  if (typeof variable.query === 'string') return variable.query;
  return variable.query?.query ?? variable.definition;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, ranges,
 * grouping clauses, numbers and function calls are taken out.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // Numbers (1e3, 0.99) and durations (5m, 1h30m).
    .replace(/(^|[^A-Za-z0-9_:])\d[\d.]*(?:e[+-]?\d+)?(?:(?:ms|[smhdwy])\d*)*/gi, '$1 ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const rest = stripped.slice((match.index ?? 0) + name.length);
    if (/^\s*\(/.test(rest)) continue; // a function call
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\d/.test(name)) continue;
    names.add(name);
  }
  return [...names];
}

/** Histogram and summary series under the name of their family, as the docs list them. */
export function familyOf(name: string): string[] {
  const match = /^(.*)_(bucket|sum|count)$/.exec(name);
  return match?.[1] ? [name, match[1]] : [name];
}

/** Metric names written in docs as `name` (in backquotes). */
export async function documentedMetrics(): Promise<Set<string>> {
  const texts = await Promise.all(['metrics.md', 'exporter.md'].map((file) => readFile(join(DOCS_DIR, file), 'utf8')));
  return new Set(texts.flatMap((text) => [...text.matchAll(/`([a-z_:][a-z0-9_:]*)`/g)].map((match) => match[1] as string)));
}

/** Names of Prometheus itself, always there: not porthole's to document. */
export const PROMETHEUS_OWN = new Set(['up']);

/**
 * An expression as Grafana sends it to Prometheus once the variables are chosen: `values` maps a
 * variable (instance, namespace) to its value, `rateInterval` stands for $__rate_interval.
 */
export function substitute(expr: string, values: Record<string, string>, rateInterval: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, rateInterval)
    .replace(/\$__interval|\$\{__interval\}/g, rateInterval)
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole: string, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare) as string;
      const value = values[name];
      if (value === undefined) throw new Error(`no value for the variable ${whole} in ${expr}`);
      return value;
    });
}
