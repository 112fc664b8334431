import type { Contender, ContenderName, Contenders } from './contenders.js';
import { median } from './stats.js';

/** What porthole must achieve on a figure: a bound on porthole/distribution, or on porthole's own value. */
export type Target =
  | { kind: 'ratio-at-least' | 'ratio-at-most'; bound: number }
  | { kind: 'porthole-at-least' | 'porthole-at-most'; bound: number; unit: string };

/** Each contender's samples, by name: porthole and distribution, unless a group has contenders of its own (figures-s3.ts). */
export type Samples<N extends string = ContenderName> = Record<N, number[]>;

/** One row of the results table. */
export interface Figure<N extends string = ContenderName> {
  name: string;
  unit: string;
  /** Decimal places shown. */
  digits: number;
  /** The median of each contender's samples (NaN for a contender without samples). */
  values: Record<N, number>;
  samples: Samples<N>;
  target?: Target;
  /** What explains the figure beside it (server CPU per request, bytes checked...). */
  detail?: string;
  /** Contenders that could not be measured, with why: their cells say "did not work", the notes the reason. */
  failed?: Partial<Record<N, string>>;
}

/**
 * Takes `rounds` samples of each contender in turn (a, b, c, a, b, c, ...), so that drift of the
 * machine falls on all alike. `sample` gets the contender and its own sample index, and answers
 * undefined for a sample it did not take (a contender known not to work).
 */
export async function sampleInTurn<N extends string, C extends { name: N }>(
  rounds: number,
  contenders: readonly C[],
  sample: (contender: C, index: number) => Promise<number | undefined>,
): Promise<Samples<N>> {
  const samples = Object.fromEntries(contenders.map((contender) => [contender.name, [] as number[]])) as Samples<N>;
  for (let round = 0; round < rounds; round += 1) {
    for (const contender of contenders) {
      const value = await sample(contender, round);
      if (value !== undefined) samples[contender.name].push(value);
    }
  }
  return samples;
}

/**
 * Takes `pairs` samples of each contender alternately (porthole, distribution, porthole, ...), so
 * that drift of the machine falls on both alike.
 */
export function sampleAlternately(pairs: number, contenders: Contenders, sample: (contender: Contender, index: number) => Promise<number>): Promise<Samples> {
  return sampleInTurn(pairs, [contenders.porthole, contenders.distribution], sample);
}

/** A figure of the samples: each contender's median (in the samples' order of contenders). */
export function figureOf<N extends string = ContenderName>(name: string, unit: string, digits: number, samples: Samples<N>, target?: Target): Figure<N> {
  const values = Object.fromEntries(Object.entries<number[]>(samples).map(([contender, taken]) => [contender, taken.length === 0 ? Number.NaN : median(taken)])) as Record<N, number>;
  const figure: Figure<N> = { name, unit, digits, samples, values };
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
