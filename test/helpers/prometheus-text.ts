/**
 * A reader of the Prometheus text exposition format (0.0.4), just enough for exact assertions on
 * what porthole, porthole-exporter or any other target answers: types from `# TYPE`, and every
 * sample with its labels. Whether the text is well-formed is promtool's job (see promtool.ts).
 */

export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_match, char: string) => (char === 'n' ? '\n' : char));
}

function parseLabels(text: string, line: string): Labels {
  const labels: Labels = {};
  LABEL.lastIndex = 0;
  let consumed = 0;
  for (let match = LABEL.exec(text); match !== null; match = LABEL.exec(text)) {
    labels[match[1] as string] = unescapeLabel(match[2] as string);
    consumed = LABEL.lastIndex;
  }
  if (consumed !== text.length) throw new Error(`cannot read the labels of: ${line}`);
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function matches(labels: Labels, wanted: Labels): boolean {
  return Object.entries(wanted).every(([name, value]) => labels[name] === value);
}

export class Exposition {
  /** Metric family name to its declared type (counter, gauge, histogram...). */
  readonly types = new Map<string, string>();
  readonly samples: Sample[] = [];

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      if (line.startsWith('# TYPE ')) {
        const [name, type] = line.slice('# TYPE '.length).split(' ');
        if (name !== undefined && type !== undefined) this.types.set(name, type);
        continue;
      }
      if (line.trim() === '' || line.startsWith('#')) continue;
      const match = SAMPLE.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      this.samples.push({ name: match[1] as string, labels: parseLabels(match[2] ?? '', line), value: parseValue(match[3] as string) });
    }
  }

  /** The samples of `name` whose labels include every pair of `labels`. */
  find(name: string, labels: Labels = {}): Sample[] {
    return this.samples.filter((sample) => sample.name === name && matches(sample.labels, labels));
  }

  /** The value of the one sample of `name` with (at least) these labels; undefined when there is none. */
  value(name: string, labels: Labels = {}): number | undefined {
    const found = this.find(name, labels);
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}; name more labels`);
    return found[0]?.value;
  }

  /** The sum over the samples of `name` with these labels (0 when there are none). */
  sum(name: string, labels: Labels = {}): number {
    return this.find(name, labels).reduce((total, sample) => total + sample.value, 0);
  }

  /** Each value of `label` on the samples of `name`, mapped to its sample's value. */
  byLabel(name: string, label: string): Record<string, number> {
    const values: Record<string, number> = {};
    for (const sample of this.find(name)) {
      const key = sample.labels[label];
      if (key === undefined) throw new Error(`a sample of ${name} has no ${label} label`);
      values[key] = sample.value;
    }
    return values;
  }
}
