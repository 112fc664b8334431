import { Command } from 'commander';
import { EXIT } from './exit-codes.js';
import { optimizeFromNowOn } from './startup-memory.js';
import type { BackupCommandOptions, GcCommandOptions, RestoreCommandOptions, ScrubCommandOptions } from './job-commands.js';
import type { HealthOptions } from './health.js';
import type { PasswdOptions } from './passwd.js';
import type { PruneCommandOptions } from './prune.js';
import type { ServeOptions } from './serve.js';
import { versionText } from './version.js';

// Each command's module is imported when that command runs: a job command does not load the
// server (Fastify and the rest), nor serve the jobs' archive code.
const program = new Command()
  .name('porthole')
  .description('An OCI distribution registry and pull-through cache that operators can see into.')
  .version(versionText('porthole'), '-V, --version', 'print the version and the commit')
  .showHelpAfterError();

program
  .command('serve')
  .description('Serve the OCI Distribution API (defaults: 127.0.0.1:5000, storage under ./data).')
  .option('-c, --config <file>', 'YAML or JSON configuration file', process.env.PORTHOLE_CONFIG)
  .option('--address <address>', 'listen address (http.address)')
  .option('-p, --port <port>', 'listen port (http.port); 0 picks a free one')
  .option('--root <dir>', 'storage root directory (storage.filesystem.rootDirectory)')
  .option('--log-level <level>', 'panic, fatal, error, warn, info, debug or trace (log.level)')
  .option('--log-output <path>', 'stdout, stderr or a file path (log.output)')
  .option('--metrics [port]', 'serve Prometheus metrics (extensions.metrics.enable); with a port, on their own listener (extensions.metrics.port)')
  .option('--tracing', 'export OpenTelemetry traces (tracing.enable)')
  .option('--tracing-endpoint <url>', 'OTLP/HTTP traces endpoint (tracing.endpoint)')
  .option('--sampling-prob <p>', 'share of new traces recorded, 0 to 1 (tracing.samplingProb)')
  .action(async (options: ServeOptions) => (await import('./serve.js')).serve(options));

/** The flags every batch job takes (docs/jobs.md). */
function jobCommand(name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('-c, --config <file>', 'YAML or JSON configuration file', process.env.PORTHOLE_CONFIG)
    .option('--root <dir>', 'storage root directory (storage.filesystem.rootDirectory)')
    .option('--pushgateway <url>', 'push the run\'s metrics to this Prometheus Pushgateway (jobs.pushgateway.url)')
    .option('--log-level <level>', 'panic, fatal, error, warn, info, debug or trace (log.level); log lines go to stderr');
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

jobCommand('gc', 'Remove blobs (and, with --untagged, manifests) that nothing references, once, and print what went.')
  .option('--untagged', 'also remove manifests no tag, index or kept referrer subject keeps (jobs.gc.untagged)')
  .option('--grace <duration>', 'never remove content younger than this, e.g. 1h (jobs.gc.grace)')
  .option('--dry-run', 'report what would be removed, remove nothing')
  .action(async (options: GcCommandOptions) => (await import('./job-commands.js')).gc(options));

jobCommand('scrub', 'Re-hash every stored blob and manifest, once; exit 1 when any does not match its digest.')
  .option('--repair', 'remove each corrupt blob so that it can be pushed (or fetched) again (jobs.scrub.repair)')
  .action(async (options: ScrubCommandOptions) => (await import('./job-commands.js')).scrub(options));

jobCommand('backup', 'Write repositories as one OCI image layout in a tar (.tar, .tar.gz or .tar.zst).')
  .requiredOption('--to <file>', 'archive to write; its extension chooses the compression')
  .option('--repo <glob>', 'repositories to back up (repeatable; * within a path component, ** across); default all', collect)
  .action(async (options: BackupCommandOptions) => (await import('./job-commands.js')).backup(options));

jobCommand('restore', 'Load an OCI image layout archive (a backup, or one skopeo wrote) into the registry, verifying every digest.')
  .requiredOption('--from <file>', 'archive to read: a tar, plain, gzip or zstd (told by its first bytes)')
  .option('--repo <glob>', 'repositories to restore (repeatable; * within a path component, ** across); default all in the archive', collect)
  .option('--into <repo>', 'repository for images whose ref name is only a tag (as skopeo writes oci-archive:FILE:TAG) or that have none')
  .option('--overwrite', 'move tags that already exist to the archive\'s manifests (default: existing tags are kept)')
  .action(async (options: RestoreCommandOptions) => (await import('./job-commands.js')).restore(options));

jobCommand('prune', 'Remove cached images nobody pulled for a while from the pull-through cache (proxy.prune), once, and print what went.')
  .option('--older-than <duration>', 'age past which a cached image goes, e.g. 30d (proxy.prune.olderThan)')
  .option('--by <what>', 'accessed (last pull) or created (first cached) (proxy.prune.by)')
  .option('--dry-run', 'report what would be removed, remove nothing (proxy.prune.dryRun)')
  .action(async (options: PruneCommandOptions) => (await import('./prune.js')).prune(options));

program
  .command('verify')
  .description('Check a configuration file; prints "ok" or every problem with its key (exit 2).')
  .argument('<file>', 'YAML or JSON configuration file')
  .action(async (file: string) => {
    process.exitCode = await (await import('./verify.js')).verify(file);
  });

program
  .command('health')
  .description('Ask the porthole of the configuration (file and PORTHOLE_* variables) on this host for a probe: exit 0 when it answers 200, else 1 (the container image\'s HEALTHCHECK).')
  .option('-c, --config <file>', 'YAML or JSON configuration file', process.env.PORTHOLE_CONFIG)
  .option('--probe <name>', 'livez, readyz or startupz', 'readyz')
  .option('--url <url>', 'the porthole to ask, e.g. http://127.0.0.1:5000, instead of the configuration\'s address and port')
  .option('--timeout <duration>', 'how long to wait for the answer', '3s')
  .action(async (options: HealthOptions) => {
    process.exitCode = await (await import('./health.js')).health(options);
  });

program
  .command('passwd')
  .description('Add a user to an htpasswd file (auth.htpasswd.path), or change their password: bcrypt, as htpasswd -B writes it.')
  .argument('<file>', 'the htpasswd file; created (mode 0600) when missing')
  .argument('<user>', 'the user name')
  .option('--cost <n>', "bcrypt's cost, 4 to 17", '10')
  .action(async (file: string, user: string, options: PasswdOptions) => {
    process.exitCode = await (await import('./passwd.js')).passwd(file, user, options);
  });

// startup-memory.ts holds TurboFan back while serve starts; every other command gets it before it runs.
program.hook('preAction', (_program, command) => {
  if (command.name() !== 'serve') optimizeFromNowOn();
});

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`porthole: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT.failure);
});
