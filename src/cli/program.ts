import { Command } from 'commander';
import { EXIT } from './exit-codes.js';
import { prune } from './prune.js';
import { serve } from './serve.js';
import { verify } from './verify.js';
import { versionText } from './version.js';

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
  .option('--root <dir>', 'storage root directory (storage.rootDirectory)')
  .option('--log-level <level>', 'panic, fatal, error, warn, info, debug or trace (log.level)')
  .option('--log-output <path>', 'stdout, stderr or a file path (log.output)')
  .option('--metrics [port]', 'serve Prometheus metrics (extensions.metrics.enable); with a port, on their own listener (extensions.metrics.port)')
  .option('--tracing', 'export OpenTelemetry traces (tracing.enable)')
  .option('--tracing-endpoint <url>', 'OTLP/HTTP traces endpoint (tracing.endpoint)')
  .option('--sampling-prob <p>', 'share of new traces recorded, 0 to 1 (tracing.samplingProb)')
  .action(serve);

program
  .command('prune')
  .description('Remove cached images nobody pulled for a while from the pull-through cache (proxy.prune), once, and print what went.')
  .option('-c, --config <file>', 'YAML or JSON configuration file, with the proxy section', process.env.PORTHOLE_CONFIG)
  .option('--root <dir>', 'storage root directory (storage.rootDirectory)')
  .option('--older-than <duration>', 'age past which a cached image goes, e.g. 30d (proxy.prune.olderThan)')
  .option('--by <what>', 'accessed (last pull) or created (first cached) (proxy.prune.by)')
  .option('--dry-run', 'report what would be removed, remove nothing (proxy.prune.dryRun)')
  .action(prune);

program
  .command('verify')
  .description('Check a configuration file; prints "ok" or every problem with its key (exit 2).')
  .argument('<file>', 'YAML or JSON configuration file')
  .action(async (file: string) => {
    process.exitCode = await verify(file);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`porthole: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT.failure);
});
