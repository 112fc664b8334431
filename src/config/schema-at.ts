import type { z } from 'zod';

/** Schema kinds that only wrap another (a default, an optional...) and add no keys of their own. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'nonoptional', 'readonly', 'catch']);

interface SchemaDef {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  element?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
}

function defOf(schema: z.core.$ZodType): SchemaDef {
  return schema._zod.def as unknown as SchemaDef;
}

/** The schema under wrappers that change nothing of its shape (optional, default, a pipe's input...). */
function unwrapped(schema: z.core.$ZodType): z.core.$ZodType {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType) return unwrapped(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrapped(def.in);
  return schema;
}

/** What `key` (a property, or an index into a list) holds in `schema`, if it has it. */
function child(schema: z.core.$ZodType, key: PropertyKey): z.core.$ZodType | undefined {
  const def = defOf(schema);
  if (def.type === 'array' && typeof key === 'number') return def.element;
  return def.type === 'object' && typeof key === 'string' ? def.shape?.[key] : undefined;
}

/** The schema of the value at `path` (as zod reports issue paths), unwrapped; undefined where none is. */
export function schemaAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): z.core.$ZodType | undefined {
  let current: z.core.$ZodType | undefined = unwrapped(schema);
  for (const key of path) {
    current = current && child(current, key);
    current = current && unwrapped(current);
  }
  return current;
}

/** The keys an object schema knows, or none for any other schema. */
export function keysOf(schema: z.core.$ZodType | undefined): string[] {
  const def = schema && defOf(schema);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}
