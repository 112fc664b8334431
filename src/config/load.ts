import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type PortholeConfig } from './schema.js';

/** A config that cannot be used; `problems` name every key at fault. The CLI exits 2 on it. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`);
    }
    return [`${keyPath(issue.path)}: ${issue.message}`];
  });
}

/** Validates a plain object (from a file, with flags already merged in) into a full config. */
export function validateConfig(raw: unknown): PortholeConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues));
  return result.data;
}

/** Reads a YAML or JSON file (YAML is a superset of JSON, so one parser serves both). */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  try {
    const parsed: unknown = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new Error('the top level must be a mapping of sections');
    }
    return parsed ?? {};
  } catch (err) {
    throw new ConfigError([`${path}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
}

type Overrides = Record<string, unknown>;

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

/** Flags override the file, and the file overrides defaults. */
export async function loadConfig(file: string | undefined, overrides: Record<string, unknown> = {}): Promise<PortholeConfig> {
  const raw = (file ? await readConfigFile(file) : {}) as Overrides;
  const merged = structuredClone(raw);
  for (const [path, value] of Object.entries(overrides)) {
    if (value !== undefined) setPath(merged, path, value);
  }
  return validateConfig(merged);
}
