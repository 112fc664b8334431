import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';
import { describeSyntaxError } from './syntax-error.js';

/** Reads a YAML or JSON file (YAML is a superset of JSON, so one parser serves both). */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  const format = extname(path) === '.json' ? 'json' : 'yaml';
  let parsed: unknown;
  try {
    parsed = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([describeSyntaxError(path, text, err as Error, format)]);
  }
  if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw new ConfigError([`${path}: not valid YAML or JSON: the top level must be a mapping of sections`]);
  }
  return parsed ?? {};
}
