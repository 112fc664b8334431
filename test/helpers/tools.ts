import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

const cache = new Map<string, boolean>();

/** The Debian package of each command whose package has another name (the rest are their own). */
const PACKAGE_OF: Record<string, string> = { ctr: 'containerd', promtool: 'prometheus', ab: 'apache2-utils', htpasswd: 'apache2-utils' };

function installHint(missing: string[]): string {
  const packages = [...new Set(missing.map((name) => PACKAGE_OF[name] ?? name))];
  return `missing tool(s): ${missing.join(', ')} (install with: apt-get install -y ${packages.join(' ')})`;
}

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
  const message = installHint(missing);
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
  const message = installHint(missing);
  if (process.env.CI === 'true') throw new Error(`${message}; CI must install them`);
  process.stderr.write(`SKIPPED: ${message}\n`);
  return message;
}

/**
 * For a whole suite that must run as root (containerd, for one), as describe()'s `skip` option,
 * with the same rule as skipUnlessTools: skipped loudly on a developer's machine, a failure under
 * CI=true, where .ci/run runs as root.
 */
export function skipUnlessRoot(what: string): string | false {
  if (process.getuid?.() === 0) return false;
  const message = `${what} must run as root`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI runs the tests as root`);
  process.stderr.write(`SKIPPED: ${message}\n`);
  return message;
}
