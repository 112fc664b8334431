import { ConfigError, loadConfig } from '../config/load.js';
import { isDuration } from '../config/durations.js';
import type { PortholeConfig } from '../config/schema.js';
import { pruneCache, pruneOptionsOf } from '../proxy/cache-pruner.js';
import { cachedRepositories } from '../proxy/namespaces.js';
import { FilesystemDriver } from '../storage/filesystem/fs-driver.js';
import { ImageStore } from '../storage/image-store/image-store.js';
import { EXIT } from './exit-codes.js';

export interface PruneCommandOptions {
  config?: string;
  root?: string;
  olderThan?: string;
  by?: string;
  dryRun?: boolean;
}

function refuse(message: string): never {
  process.stderr.write(`porthole prune: ${message}\n`);
  process.exit(EXIT.badConfig);
}

async function readConfig(options: PruneCommandOptions): Promise<PortholeConfig> {
  if (options.olderThan !== undefined && !isDuration(options.olderThan)) refuse(`--older-than: "${options.olderThan}" is not a duration such as 12h or 30d`);
  if (options.by !== undefined && options.by !== 'accessed' && options.by !== 'created') refuse(`--by: "${options.by}" is neither accessed nor created`);
  try {
    return await loadConfig(options.config, {
      'storage.rootDirectory': options.root,
      'proxy.prune.olderThan': options.olderThan,
      'proxy.prune.by': options.by,
      'proxy.prune.dryRun': options.dryRun,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    refuse(err.message);
  }
}

/**
 * `porthole prune`: removes cached images older than --older-than from the pull-through cache's
 * namespaces, once, and prints what it removed (or would, with --dry-run) as one JSON line. The
 * config file names the upstreams, which is how porthole knows which repositories are cache.
 */
export async function prune(options: PruneCommandOptions): Promise<void> {
  const config = await readConfig(options);
  if (!config.proxy) refuse('the configuration has no proxy section: there is no pull-through cache to prune (give --config)');
  const local = new ImageStore(new FilesystemDriver(config.storage.rootDirectory));
  await local.init();
  const result = await pruneCache(local, cachedRepositories(config.proxy), pruneOptionsOf(config.proxy.prune));
  process.stdout.write(`${JSON.stringify({ ...result, olderThan: config.proxy.prune.olderThan, by: config.proxy.prune.by })}\n`);
}
