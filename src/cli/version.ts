import { buildInfo } from '../observability/build-info.js';

/** What `--version` (`-V`) prints: the version, the commit it was built from, and the Node.js running it. */
export function versionText(command: string): string {
  const info = buildInfo();
  return `${command} ${info.version} (commit ${info.commit}, node ${info.nodeVersion})`;
}
