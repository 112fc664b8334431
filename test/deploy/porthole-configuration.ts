import assert from 'node:assert/strict';
import { fromEnvironment, variableKeys } from '../../src/config/environment.js';
import { validateConfig, withOverrides } from '../../src/config/load.js';
import type { PortholeConfig } from '../../src/config/schema.js';
import { isObject } from './deploy-files.js';

/**
 * What porthole makes of the configuration deploy/ gives it, a file and PORTHOLE_* variables,
 * asked of porthole's own code (src/config) so that the manifests are judged as `porthole serve`
 * would judge them, not by a second reading of the schema.
 */

/** PORTHOLE_* variables that are porthole's without being configuration keys. */
const OTHER_VARIABLES = new Set(['PORTHOLE_CONFIG', 'PORTHOLE_COMMIT', 'PORTHOLE_STARTUP_TIMEOUT']);
const OTHER_PREFIXES = ['PORTHOLE_EXPORTER_', 'PORTHOLE_BENCH_'];

export function isPortholeVariable(name: string): boolean {
  return variableKeys().has(name) || OTHER_VARIABLES.has(name) || OTHER_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** Every variable a container is given (PORTHOLE_* and others), with where: Kubernetes env lists, compose environment maps and lists. */
export function variablesSet(value: unknown, path: string[], found: Array<{ name: string; path: string[] }>): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => variablesSet(item, [...path, String(index)], found));
    return;
  }
  if (!isObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'env' && Array.isArray(child)) {
      for (const entry of child) if (isObject(entry) && typeof entry.name === 'string') found.push({ name: entry.name, path: [...path, key] });
    }
    if (key === 'environment' && isObject(child)) for (const name of Object.keys(child)) found.push({ name, path: [...path, key] });
    if (key === 'environment' && Array.isArray(child)) for (const entry of child) found.push({ name: String(entry).split('=')[0] as string, path: [...path, key] });
    variablesSet(child, [...path, key], found);
  }
}

/** porthole's configuration from a file's content and PORTHOLE_* variables, as `porthole serve` makes it. */
export function effectiveConfig(file: unknown, env: Record<string, string>, where: string): PortholeConfig {
  let environment: ReturnType<typeof fromEnvironment>;
  try {
    environment = fromEnvironment(env);
  } catch (err) {
    assert.fail(`${where}: ${(err as Error).message}`);
  }
  assert.deepEqual(
    environment.ignored.map((entry) => entry.variable),
    [],
    `${where}: PORTHOLE_* variables that set no configuration key`,
  );
  try {
    return validateConfig(withOverrides(file, environment.overrides));
  } catch (err) {
    assert.fail(`${where}: the configuration does not validate: ${(err as Error).message}`);
  }
}

/** Where a porthole serves Prometheus text, or undefined in minimal mode. */
export function metricsPort(config: PortholeConfig): number | undefined {
  const metrics = config.extensions.metrics;
  if (metrics === undefined || !metrics.enable) return undefined;
  return metrics.port ?? config.http.port;
}
