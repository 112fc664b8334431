import type { Figure } from './figure.js';
import { median } from './stats.js';

/**
 * One row of issue 20's table of anchors: a measured value (a ratio to an anchor, or porthole's
 * own value) and the bound it must keep.
 */
export interface AnchorCheck {
  /** The figure, as the issue's table names it. */
  name: string;
  /** What the value is ("porthole default / Fastify ceiling", "median over rounds of ..."). */
  measure: string;
  value: number;
  digits: number;
  /** The value's unit, for a value that is not a ratio. */
  unit?: string;
  kind: 'at-least' | 'at-most';
  bound: number;
}

export function meetsCheck(check: AnchorCheck): boolean {
  return check.kind === 'at-least' ? check.value >= check.bound : check.value <= check.bound;
}

export function boundText(check: AnchorCheck): string {
  return `${check.kind === 'at-least' ? '≥' : '≤'} ${check.bound}${check.unit === undefined ? '' : ` ${check.unit}`}`;
}

/** A check on the ratio of two contenders' medians in one figure. */
export function ratioCheck<N extends string>(name: string, figure: Figure<N>, of: { name: N; label: string }, over: { name: N; label: string }, kind: AnchorCheck['kind'], bound: number): AnchorCheck {
  return { name, measure: `${of.label} / ${over.label}`, value: figure.values[of.name] / figure.values[over.name], digits: 2, kind, bound };
}

/**
 * The median, over rounds, of `of`'s sample over `over`'s in the same round: the machine's drift
 * from round to round moves both alike and cancels out. Samples missing from either are skipped.
 */
export function medianOfRoundRatios(of: number[], over: number[]): number {
  const ratios = of.flatMap((value, round) => (over[round] === undefined ? [] : [value / (over[round] as number)]));
  return ratios.length === 0 ? Number.NaN : median(ratios);
}
