import { join } from 'node:path';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../../test/helpers/porthole-process.js';
import type { TestStorage } from '../../test/helpers/test-storage.js';

/** Where a benchmarked porthole keeps its content and listens, and what it logs, when not the defaults. */
export interface QuietPortholeOptions {
  /** Its storage (an S3 bucket, with Redis or not: test-storage.ts); a temp dir on the local disk when omitted. */
  storage?: TestStorage;
  /** Its storage root on a local filesystem of the caller's choice (a tmpfs); under its temp dir when omitted. */
  root?: string;
  /** A fixed port (a replica behind haproxy); an ephemeral one when omitted. */
  port?: number;
  /**
   * Access lines on (log.level info), to stdout or to a file, for the figures that measure them
   * (anchors.ts); off (log.level warn) when omitted.
   */
  accessLog?: 'stdout' | { file: string };
  /** Options for node itself (the CPU-per-request figures turn V8's memory reducer off: server-cpu.ts STEADY_NODE_ARGS). */
  nodeArgs?: string[];
}

function logBlock(accessLog: QuietPortholeOptions['accessLog'], audit: string): string {
  if (accessLog === undefined) return `log:\n  level: warn\n  audit: ${audit}\n`;
  const output = accessLog === 'stdout' ? 'stdout' : accessLog.file;
  return `log:\n  level: info\n  output: ${output}\n  audit: ${audit}\n`;
}

/**
 * The test helper keeps everything a process writes to stdout in memory, for its assertions: at
 * info under wrk that is hundreds of MB. The pipe is still read (a process writing to a pipe
 * nobody reads would block), but what comes through is dropped.
 */
function dropStdout(porthole: PortholeProcess): void {
  const stdout = porthole.process.stdout;
  if (stdout === null) return;
  stdout.removeAllListeners('data');
  stdout.on('data', () => undefined);
}

/**
 * porthole as benchmarked: access lines off (log.level warn, as for the reference registry), so
 * the figures measure serving, not logging, unless `options.accessLog` asks for them. The audit
 * log (writes only, so never on a GET path) is there to announce the start, which warn hides.
 */
export async function startQuietPorthole(config = '', options: QuietPortholeOptions = {}): Promise<PortholeProcess & { dispose(): Promise<void> }> {
  const dir = await tempDir('bench');
  const audit = join(dir, 'audit.log');
  let porthole: PortholeProcess;
  try {
    porthole = await startPorthole({
      config: `${logBlock(options.accessLog, audit)}${config}`,
      logLevel: null,
      announcedIn: audit,
      root: options.root ?? join(dir, 'data'),
      ...(options.storage === undefined ? {} : { storage: options.storage }),
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
    });
  } catch (err) {
    // startPorthole stopped the process; its directory is this function's to remove.
    await cleanup(dir);
    throw err;
  }
  if (options.accessLog === 'stdout') dropStdout(porthole);
  return Object.assign(porthole, {
    async dispose() {
      await porthole.stop();
      await cleanup(dir);
    },
  });
}
