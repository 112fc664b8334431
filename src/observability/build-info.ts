import { readFileSync } from 'node:fs';

/** What `porthole_info` reports. The commit comes from PORTHOLE_COMMIT, set by whoever builds porthole. */
export interface BuildInfo {
  version: string;
  commit: string;
  nodeVersion: string;
}

export function buildInfo(): BuildInfo {
  // dist/src/observability/build-info.js -> the package root.
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return { version: manifest.version, commit: process.env.PORTHOLE_COMMIT ?? 'unknown', nodeVersion: process.version };
}
