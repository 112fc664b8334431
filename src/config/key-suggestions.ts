import type { z } from 'zod';
import { keysOf, schemaAt } from './schema-at.js';

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known key closest to a misspelt one, when close enough to be what was meant: about one
 * edit in three characters, case ignored (so `root_directory` finds `rootDirectory`, and `bogus`
 * finds nothing).
 */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  const word = unknown.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(word, key.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

/**
 * What to suggest for an unknown key at `path` of `schema` (the path of the object holding it): a
 * key beside it, else one a level down, given with its section (`storage.rootDirectry` finds
 * `filesystem.rootDirectory`, where that key went when storage learned to choose its driver).
 */
export function suggestKey(schema: z.core.$ZodType, path: readonly PropertyKey[], unknown: string): string | undefined {
  const here = keysOf(schemaAt(schema, path));
  const beside = closestKey(unknown, here);
  if (beside !== undefined) return beside;
  const below = here.flatMap((section) => keysOf(schemaAt(schema, [...path, section])).map((key) => ({ section, key })));
  const found = closestKey(unknown, below.map((entry) => entry.key));
  const entry = below.find((candidate) => candidate.key === found);
  return entry && `${entry.section}.${entry.key}`;
}
