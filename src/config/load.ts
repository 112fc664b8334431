import type { z } from 'zod';
import { withMovedKeys } from './moved-keys.js';
import { withVariableNamed, type FromEnvironment } from './environment.js';
import { ConfigError } from './config-error.js';
import { readConfigFile } from './config-file.js';
import { suggestKey } from './key-suggestions.js';
import { numberRangeProblem } from './number-range.js';
import { configSchema, type PortholeConfig } from './schema.js';

// Where most callers have always found them.
export { ConfigError, readConfigFile };

function keyPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/**
 * One line per problem, named by its key. Given the schema, an unknown key comes with the known
 * key it most likely misspells (`storage.rootDirectry: unknown key (did you mean rootDirectory?)`),
 * as commander does for an unknown flag, and a number out of range (or no number at all) with the
 * range it takes (`http.port: must be a whole number from 0 to 65535`).
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], schema?: z.core.$ZodType): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const suggestion = schema ? suggestKey(schema, issue.path, key) : undefined;
        return `${keyPath([...issue.path, key])}: unknown key${suggestion ? ` (did you mean ${suggestion}?)` : ''}`;
      });
    }
    return [`${keyPath(issue.path)}: ${(schema && numberRangeProblem(schema, issue)) ?? issue.message}`];
  });
}

/** Validates a plain object (from a file, with flags already merged in) into a full config. */
export function validateConfig(raw: unknown): PortholeConfig {
  const result = configSchema.safeParse(withMovedKeys(raw ?? {}));
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues, configSchema));
  return result.data;
}

export type Overrides = Record<string, unknown>;

/** Sets `value` at a dotted path inside a nested plain object, creating sections as needed. */
export function setPath(target: Overrides, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node: Overrides = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Overrides;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** A copy of `raw` (a file's content) with each override that has a value set at its dotted path. */
export function withOverrides(raw: unknown, overrides: Overrides): Overrides {
  const merged = structuredClone((raw ?? {}) as Overrides);
  for (const [path, value] of Object.entries(overrides)) {
    if (value !== undefined) setPath(merged, path, value);
  }
  return merged;
}

/**
 * Flags override the environment (PORTHOLE_* variables, given as `environment`), the environment
 * overrides the file, and the file overrides defaults. A problem with a key that a variable set
 * names the variable.
 */
export async function loadConfig(file: string | undefined, overrides: Overrides = {}, environment?: FromEnvironment): Promise<PortholeConfig> {
  const fromFile = file ? withMovedKeys(await readConfigFile(file)) : {};
  const layered = withOverrides(withOverrides(fromFile, environment?.overrides ?? {}), overrides);
  try {
    return validateConfig(layered);
  } catch (err) {
    if (!(err instanceof ConfigError) || environment === undefined) throw err;
    // A key the flags set is the flags' doing, not the variable's.
    const variables = new Map([...environment.variables].filter(([key]) => overrides[key] === undefined));
    throw new ConfigError(err.problems.map((line) => withVariableNamed(line, variables)));
  }
}
