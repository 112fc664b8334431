import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

const cache = new Map<string, boolean>();

export function hasTool(name: string): boolean {
  if (!cache.has(name)) cache.set(name, spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0);
  return cache.get(name) as boolean;
}

/**
 * Skips the test loudly when a third-party tool is missing on a developer's machine; under
 * CI=true a missing tool is a failure, because .ci/run is supposed to have installed it.
 */
export function requireTools(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((name) => !hasTool(name));
  if (missing.length === 0) return true;
  const message = `missing tool(s): ${missing.join(', ')} (install with: apt-get install -y ${missing.join(' ')})`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI must install them`);
  t.diagnostic(`SKIPPED: ${message}`);
  t.skip(message);
  return false;
}

/**
 * For a whole suite, as describe()'s `skip` option: false when every tool is there; a loud reason
 * to skip on a developer's machine that lacks one; under CI=true a missing tool throws, failing the
 * file, because .ci/run is supposed to have installed it.
 */
export function skipUnlessTools(...names: string[]): string | false {
  const missing = names.filter((name) => !hasTool(name));
  if (missing.length === 0) return false;
  const message = `missing tool(s): ${missing.join(', ')} (install with: apt-get install -y ${missing.join(' ')})`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI must install them`);
  process.stderr.write(`SKIPPED: ${message}\n`);
  return message;
}
