import type { Contender, ContenderName, Contenders } from './contenders.js';
import { alternate, median } from './stats.js';

/** What porthole must achieve on a figure: a bound on porthole/distribution, or on porthole's own value. */
export type Target =
  | { kind: 'ratio-at-least' | 'ratio-at-most'; bound: number }
  | { kind: 'porthole-at-least' | 'porthole-at-most'; bound: number; unit: string };

export type Samples = Record<ContenderName, number[]>;

/** One row of the results table. */
export interface Figure {
  name: string;
  unit: string;
  /** Decimal places shown. */
  digits: number;
  /** The median of each contender's samples. */
  values: Record<ContenderName, number>;
  samples: Samples;
  target?: Target;
  /** What explains the figure beside it (server CPU per request, bytes checked...). */
  detail?: string;
}

/**
 * Takes `pairs` samples of each contender alternately (porthole, distribution, porthole, ...), so
 * that drift of the machine falls on both alike.
 */
export async function sampleAlternately(pairs: number, contenders: Contenders, sample: (contender: Contender, index: number) => Promise<number>): Promise<Samples> {
  const taken: Record<ContenderName, number> = { porthole: 0, distribution: 0 };
  const next = (contender: Contender) => () => sample(contender, taken[contender.name]++);
  const samples = await alternate(pairs, next(contenders.porthole), next(contenders.distribution));
  return { porthole: samples.a, distribution: samples.b };
}

export function figureOf(name: string, unit: string, digits: number, samples: Samples, target?: Target): Figure {
  const figure: Figure = { name, unit, digits, samples, values: { porthole: median(samples.porthole), distribution: median(samples.distribution) } };
  if (target !== undefined) figure.target = target;
  return figure;
}

export function ratioOf(figure: Figure): number {
  return figure.values.porthole / figure.values.distribution;
}

export function targetText(target: Target): string {
  switch (target.kind) {
    case 'ratio-at-least':
      return `≥ ${target.bound}`;
    case 'ratio-at-most':
      return `≤ ${target.bound}`;
    case 'porthole-at-least':
      return `porthole ≥ ${target.bound} ${target.unit}`;
    case 'porthole-at-most':
      return `porthole ≤ ${target.bound} ${target.unit}`;
  }
}

export function meetsTarget(figure: Figure): boolean | undefined {
  const target = figure.target;
  if (target === undefined) return undefined;
  switch (target.kind) {
    case 'ratio-at-least':
      return ratioOf(figure) >= target.bound;
    case 'ratio-at-most':
      return ratioOf(figure) <= target.bound;
    case 'porthole-at-least':
      return figure.values.porthole >= target.bound;
    case 'porthole-at-most':
      return figure.values.porthole <= target.bound;
  }
}

/** (max − min) / median of a contender's samples: how far its runs disagreed. */
export function spreadOf(values: number[]): number {
  return values.length < 2 ? 0 : (Math.max(...values) - Math.min(...values)) / median(values);
}
