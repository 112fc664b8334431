import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

/**
 * Where deploy/ and what it refers to are in the checkout, and how the checks read them: only
 * files are read, and a file that does not parse fails the check that reads it, naming the file.
 */

// dist/test/deploy -> the checkout.
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
export const KUBERNETES_DIR = join(DEPLOY_DIR, 'kubernetes');
export const COMPOSE_FILE = join(DEPLOY_DIR, 'compose.yaml');
export const IMAGE_CONFIG_FILE = join(DEPLOY_DIR, 'container', 'config.yaml');
export const ALERTS_FILE = join(REPO_ROOT, 'observability', 'prometheus', 'alerts.yml');

export type Json = Record<string, unknown>;
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A path as the messages show it: from the checkout's root. */
export function shown(path: string): string {
  return relative(REPO_ROOT, path);
}

/** Every file below `dir` that `keep` keeps, in a stable order. */
export function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? filesUnder(path, keep) : keep(path) ? [path] : [];
    });
}

export const isYaml = (path: string) => /\.ya?ml$/.test(path);

/** Every document of a YAML file, as plain values; a parse error fails the test, naming the file. */
export function yamlDocuments(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true });
  for (const document of documents) assert.deepEqual(document.errors.map((err) => err.message), [], `${shown(path)} does not parse`);
  return documents.map((document) => document.toJS() as unknown).filter((value) => value !== null && value !== undefined);
}

export function yamlFile<T>(path: string): T {
  return parse(readFileSync(path, 'utf8'), { merge: true }) as T;
}
