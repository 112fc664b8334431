import { Registry } from 'prom-client';
import { ConfigError } from '../../config/config-error.js';
import { buildInfo } from '../../observability/build-info.js';
import { LogFile } from '../../observability/log-files.js';
import { createLogger } from '../../observability/logger.js';
import { EXIT } from '../../cli/exit-codes.js';
import { keyToBlame } from '../../cli/listen-failure.js';
import { buildApiExporterServer } from './api-app.js';
import { CollectionLoop } from './collection-loop.js';
import { Collector } from './collector.js';
import { ManifestCache } from './manifest-cache.js';
import { declareApiMetrics, declareSelfMetrics } from './metrics.js';
import { resolveApiOptions, type FlagValues } from './options.js';
import { RegistryClient } from './registry-client.js';
import { loadTlsMaterial } from './tls-files.js';

function refuse(err: unknown): never {
  if (!(err instanceof ConfigError)) throw err;
  for (const problem of err.problems) process.stderr.write(`porthole-exporter: ${problem}\n`);
  process.exit(EXIT.badConfig);
}

/** `porthole-exporter api`: options, TLS files, the listener, then the background collection. */
export async function runApiExporter(flags: FlagValues, env: NodeJS.ProcessEnv): Promise<void> {
  let resolved;
  let tls;
  try {
    resolved = await resolveApiOptions(flags, env);
    tls = await loadTlsMaterial(resolved.options, resolved.sources);
  } catch (err) {
    refuse(err);
  }
  const { options, sources } = resolved;
  const logFile = await LogFile.open('stdout');
  const log = createLogger({ level: options.verbose ? 'debug' : 'info' }, logFile.stream).child({ module: 'exporter' });
  // The exporter never exits because of what the registry does; a rejection nobody awaited is logged, not fatal.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unexpected failure in the background; the exporter keeps running'));

  const { version } = buildInfo();
  const userAgent = `porthole-exporter/${version}`;
  const client = new RegistryClient({ baseUrl: options.connectionString, username: options.username, password: options.password, tls, timeoutMs: options.timeoutMs, userAgent });
  const cache = new ManifestCache();
  const registry = new Registry();
  const portholeRegistry = new Registry();
  const metrics = declareApiMetrics(registry, portholeRegistry);
  declareSelfMetrics(registry, version, cache, client);
  const collector = new Collector(client, cache, { jobCount: options.jobCount, userAgent }, log);
  const loop = new CollectionLoop(collector, metrics, { intervalMs: options.intervalMs, timeoutMs: options.timeoutMs, maxRepositories: options.maxRepositories, target: options.connectionString }, log);
  const server = buildApiExporterServer(registry, portholeRegistry, () => loop.porthole);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.listenAddress, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const blame = keyToBlame(code, { address: sources.listenAddress === 'default' ? '--listen-address' : sources.listenAddress, port: sources.port === 'default' ? '--port' : sources.port });
    process.stderr.write(`porthole-exporter: ${blame}: cannot listen on ${options.listenAddress}:${options.port} (${code ?? String(err)})\n`);
    process.exit(EXIT.badConfig);
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  // Every option as resolved, and where it came from (flag, variable, file key or default); of the
  // password only whether there is one (pino would blank any key named password anyway).
  const { password, ...shown } = options;
  const { password: passwordSource, ...shownSources } = sources;
  log.info(
    {
      mode: 'api',
      address: options.listenAddress,
      port,
      path: '/metrics',
      target: options.connectionString,
      version,
      options: { ...shown, passwordGiven: password !== undefined },
      sources: { ...shownSources, passwordFrom: passwordSource },
    },
    'porthole-exporter listening',
  );
  loop.start();
  const stop = (signal: string): void => {
    log.info({ signal }, 'porthole-exporter stopping');
    server.closeAllConnections();
    void Promise.all([loop.stop(), new Promise<void>((resolve) => server.close(() => resolve()))])
      .then(() => client.close())
      .finally(() => logFile.flush().finally(() => process.exit(EXIT.ok)));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
