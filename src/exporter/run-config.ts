import { ConfigError } from '../config/config-error.js';
import { EXIT } from '../cli/exit-codes.js';
import { keyToBlame } from '../cli/listen-failure.js';
import { LogFile } from '../observability/log-files.js';
import { createLogger } from '../observability/logger.js';
import { loadExporterConfig, type CredentialFlags } from './config.js';
import { buildExporterApp } from './exporter-app.js';

/** `porthole-exporter config FILE`: porthole's metrics snapshot (its minimal mode) in Prometheus format. */
export async function runExporter(file: string, flags: CredentialFlags): Promise<void> {
  let config;
  try {
    config = await loadExporterConfig(file, flags);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`porthole-exporter: ${err.message}\n`);
    process.exit(EXIT.badConfig);
  }
  let logFile: LogFile;
  try {
    logFile = await LogFile.open(config.Exporter.log.output);
  } catch (err) {
    process.stderr.write(`porthole-exporter: Exporter.log.output: cannot open "${config.Exporter.log.output}" (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
    process.exit(EXIT.badConfig);
  }
  const log = createLogger(config.Exporter.log, logFile.stream).child({ module: 'exporter' });
  const { app, client } = buildExporterApp(config, log);
  try {
    await app.listen({ host: config.Exporter.address, port: config.Exporter.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const key = keyToBlame(code, { address: 'Exporter.address', port: 'Exporter.port' });
    process.stderr.write(`porthole-exporter: ${key}: cannot listen on ${config.Exporter.address}:${config.Exporter.port} (${code ?? String(err)})\n`);
    process.exit(EXIT.badConfig);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.Exporter.port;
  log.info({ address: config.Exporter.address, port, path: config.Exporter.metrics.path, target: client.target }, 'porthole-exporter listening');
  const stop = (signal: string): void => {
    log.info({ signal }, 'porthole-exporter stopping');
    void Promise.all([app.close(), client.close()]).finally(() => logFile.flush().finally(() => process.exit(EXIT.ok)));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
