import { join } from 'node:path';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../../test/helpers/porthole-process.js';

/**
 * porthole as benchmarked: access lines off (log.level warn, as for the reference registry), so
 * the figures measure serving, not logging. The audit log (writes only, so never on a GET path)
 * is there to announce the start, which warn hides.
 */
export async function startQuietPorthole(config = ''): Promise<PortholeProcess & { dispose(): Promise<void> }> {
  const dir = await tempDir('bench');
  const audit = join(dir, 'audit.log');
  const porthole = await startPorthole({
    config: `log:\n  level: warn\n  audit: ${audit}\n${config}`,
    logLevel: null,
    announcedIn: audit,
    root: join(dir, 'data'),
  });
  return Object.assign(porthole, {
    async dispose() {
      await porthole.stop();
      await cleanup(dir);
    },
  });
}
