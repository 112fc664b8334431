import { ConfigError, readConfigFile, validateConfig, withOverrides } from '../config/load.js';
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

/** Why prune cannot run without the proxy section, said before any of the section's own problems. */
function noPullThroughCache(file: string | undefined): string {
  const why = 'prune works on a pull-through cache and needs a configuration with a proxy section (see docs/proxy.md)';
  return file === undefined ? `${why}: give one with --config FILE or PORTHOLE_CONFIG` : `${file} has no proxy section: ${why}`;
}

function hasProxySection(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && 'proxy' in raw && (raw as { proxy: unknown }).proxy !== undefined;
}

async function readConfig(options: PruneCommandOptions): Promise<PortholeConfig> {
  if (options.olderThan !== undefined && !isDuration(options.olderThan)) refuse(`--older-than: "${options.olderThan}" is not a duration such as 12h or 30d`);
  if (options.by !== undefined && options.by !== 'accessed' && options.by !== 'created') refuse(`--by: "${options.by}" is neither accessed nor created`);
  try {
    const raw = options.config === undefined ? {} : await readConfigFile(options.config);
    // The flags set proxy.prune.*, which would make up a proxy section with no upstreams and
    // blame proxy.upstreams, when what is missing is the pull-through cache's configuration.
    if (!hasProxySection(raw)) refuse(noPullThroughCache(options.config));
    return validateConfig(
      withOverrides(raw, {
        'storage.rootDirectory': options.root,
        'proxy.prune.olderThan': options.olderThan,
        'proxy.prune.by': options.by,
        'proxy.prune.dryRun': options.dryRun,
      }),
    );
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
  if (!config.proxy) refuse(noPullThroughCache(options.config));
  const local = new ImageStore(new FilesystemDriver(config.storage.rootDirectory));
  await local.init();
  const result = await pruneCache(local, cachedRepositories(config.proxy), pruneOptionsOf(config.proxy.prune));
  process.stdout.write(`${JSON.stringify({ ...result, olderThan: config.proxy.prune.olderThan, by: config.proxy.prune.by })}\n`);
}
