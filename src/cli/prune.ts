import { ConfigError, readConfigFile } from '../config/load.js';
import { isDuration } from '../config/durations.js';
import { pruneJob } from '../jobs/prune-job.js';
import { refuseJob, runJobCommand, type JobCommandOptions } from './job-command.js';

export interface PruneCommandOptions extends JobCommandOptions {
  olderThan?: string;
  by?: string;
  dryRun?: boolean;
}

function refuse(message: string): never {
  return refuseJob('prune', message);
}

/** Why prune cannot run without the proxy section, said before any of the section's own problems. */
function noPullThroughCache(file: string | undefined): string {
  const why = 'prune works on a pull-through cache and needs a configuration with a proxy section (see docs/proxy.md)';
  return file === undefined ? `${why}: give one with --config FILE or PORTHOLE_CONFIG` : `${file} has no proxy section: ${why}`;
}

function hasProxySection(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && 'proxy' in raw && (raw as { proxy: unknown }).proxy !== undefined;
}

/**
 * `porthole prune`: removes cached images older than --older-than from the pull-through cache's
 * namespaces, once, on the job runner (docs/jobs.md), and prints what it removed (or would, with
 * --dry-run) as one JSON line. The config file names the upstreams, which is how porthole knows
 * which repositories are cache.
 */
export async function prune(options: PruneCommandOptions): Promise<void> {
  if (options.olderThan !== undefined && !isDuration(options.olderThan)) refuse(`--older-than: "${options.olderThan}" is not a duration such as 12h or 30d`);
  if (options.by !== undefined && options.by !== 'accessed' && options.by !== 'created') refuse(`--by: "${options.by}" is neither accessed nor created`);
  // The flags set proxy.prune.*, which would make up a proxy section with no upstreams and
  // blame proxy.upstreams, when what is missing is the pull-through cache's configuration.
  const raw = options.config === undefined ? {} : await readConfigFile(options.config).catch((err: unknown) => (err instanceof ConfigError ? refuse(err.message) : Promise.reject(err)));
  if (!hasProxySection(raw)) refuse(noPullThroughCache(options.config));
  await runJobCommand(
    'prune',
    options,
    { 'proxy.prune.olderThan': options.olderThan, 'proxy.prune.by': options.by, 'proxy.prune.dryRun': options.dryRun },
    (config) => (config.proxy ? pruneJob(config.proxy) : refuse(noPullThroughCache(options.config))),
  );
}
