import { join } from 'node:path';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../../test/helpers/porthole-process.js';
import type { TestStorage } from '../../test/helpers/test-storage.js';

/** Where a benchmarked porthole keeps its content and listens, when not the defaults. */
export interface QuietPortholeOptions {
  /** Its storage (an S3 bucket, with Redis or not: test-storage.ts); a temp dir on the local disk when omitted. */
  storage?: TestStorage;
  /** A fixed port (a replica behind haproxy); an ephemeral one when omitted. */
  port?: number;
}

/**
 * porthole as benchmarked: access lines off (log.level warn, as for the reference registry), so
 * the figures measure serving, not logging. The audit log (writes only, so never on a GET path)
 * is there to announce the start, which warn hides.
 */
export async function startQuietPorthole(config = '', options: QuietPortholeOptions = {}): Promise<PortholeProcess & { dispose(): Promise<void> }> {
  const dir = await tempDir('bench');
  const audit = join(dir, 'audit.log');
  let porthole: PortholeProcess;
  try {
    porthole = await startPorthole({
      config: `log:\n  level: warn\n  audit: ${audit}\n${config}`,
      logLevel: null,
      announcedIn: audit,
      root: join(dir, 'data'),
      ...(options.storage === undefined ? {} : { storage: options.storage }),
      ...(options.port === undefined ? {} : { port: options.port }),
    });
  } catch (err) {
    // startPorthole stopped the process; its directory is this function's to remove.
    await cleanup(dir);
    throw err;
  }
  return Object.assign(porthole, {
    async dispose() {
      await porthole.stop();
      await cleanup(dir);
    },
  });
}
