/**
 * The classes of a mixed test's operations (sizes, or pull and push), in exact proportions rather
 * than by coin flips: operation k of n takes the class whose cumulative weight first exceeds
 * (k + 0.5) / n, and the sequence is then shuffled with a fixed seed. Two runs with the same -n
 * (and both registries of a --compare) get the same mix in the same order.
 */
export function mixSequence<T>(classes: ReadonlyArray<{ value: T; weight: number }>, count: number, seed = 0x5eed): T[] {
  const total = classes.reduce((sum, entry) => sum + entry.weight, 0);
  if (classes.length === 0 || total <= 0) throw new Error('a mix needs at least one class with a positive weight');
  const sequence: T[] = [];
  for (let k = 0; k < count; k += 1) {
    const point = ((k + 0.5) / count) * total;
    let cumulative = 0;
    let chosen = classes[classes.length - 1] as { value: T };
    for (const entry of classes) {
      cumulative += entry.weight;
      if (point < cumulative) {
        chosen = entry;
        break;
      }
    }
    sequence.push(chosen.value);
  }
  return shuffle(sequence, seed);
}

/** Fisher-Yates with mulberry32: deterministic for a seed. */
function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** How many operations of each class a sequence holds, in the order the classes are given. */
export function mixCounts<T>(classes: ReadonlyArray<{ value: T; label: string }>, sequence: readonly T[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of classes) counts[entry.label] = sequence.filter((value) => value === entry.value).length;
  return counts;
}
