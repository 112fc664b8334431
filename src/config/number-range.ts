import { z } from 'zod';
import { schemaAt } from './schema-at.js';

/** Issues that all mean "not a number in the allowed range". */
const OUT_OF_RANGE = new Set(['invalid_type', 'too_big', 'too_small', 'not_multiple_of']);

function bounded(value: number | null): value is number {
  return value !== null && Number.isSafeInteger(value) && Math.abs(value) < Number.MAX_SAFE_INTEGER;
}

/**
 * The range a number key takes, said the same way whatever was wrong with the value: zod's
 * "expected number, received string" for `--port abc` says neither what a port is nor which
 * values are allowed. Undefined for issues about anything else, or numbers without a range.
 */
export function numberRangeProblem(schema: z.core.$ZodType, issue: z.core.$ZodIssue): string | undefined {
  if (!OUT_OF_RANGE.has(issue.code)) return undefined;
  const leaf = schemaAt(schema, issue.path);
  if (!(leaf instanceof z.ZodNumber)) return undefined;
  const kind = leaf.isInt ? 'a whole number' : 'a number';
  if (bounded(leaf.minValue) && bounded(leaf.maxValue)) return `must be ${kind} from ${leaf.minValue} to ${leaf.maxValue}`;
  if (bounded(leaf.minValue)) return `must be ${kind} of at least ${leaf.minValue}`;
  return undefined;
}
