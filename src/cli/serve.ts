import { buildApp } from '../app.js';
import { durationMs } from '../config/durations.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { createLogger, type PortholeLogger } from '../observability/logger.js';
import { EXIT } from './exit-codes.js';

export interface ServeOptions {
  config?: string;
  address?: string;
  port?: string;
  root?: string;
  logLevel?: string;
  logOutput?: string;
}

function portFlag(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  // Passed on as text when not a number, so the schema reports it against http.port.
  return /^\d+$/.test(text) ? Number(text) : text;
}

function flush(logger: PortholeLogger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

/** `porthole serve`: flags over file over defaults, listen, and shut down gracefully on a signal. */
export async function serve(options: ServeOptions): Promise<void> {
  let logger: PortholeLogger;
  let config;
  try {
    config = await loadConfig(options.config, {
      'http.address': options.address,
      'http.port': portFlag(options.port),
      'storage.rootDirectory': options.root,
      'log.level': options.logLevel,
      'log.output': options.logOutput,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`porthole: ${err.message}\n`);
    process.exit(EXIT.badConfig);
  }
  try {
    logger = createLogger(config.log);
  } catch (err) {
    process.stderr.write(`porthole: log.output: cannot open "${config.log.output}" for append (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
    process.exit(EXIT.badConfig);
  }

  let app;
  try {
    app = await buildApp(config, { logger });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(`porthole: storage.rootDirectory: cannot use "${config.storage.rootDirectory}" (${code ?? String(err)})\n`);
    process.exit(EXIT.badConfig);
  }
  const { server, health } = app;
  await server.listen({ host: config.http.address, port: config.http.port });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  logger.info({ module: 'server', address: config.http.address, port, root: config.storage.rootDirectory }, 'porthole listening');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    health.draining = true;
    logger.info({ module: 'server', signal }, 'shutting down: no new connections, finishing requests in flight');
    const deadline = setTimeout(() => {
      logger.warn({ module: 'server' }, 'shutdown timeout reached: closing remaining connections');
      server.server.closeAllConnections();
    }, durationMs(config.http.shutdownTimeout));
    deadline.unref();
    server
      .close()
      .then(async () => {
        clearTimeout(deadline);
        logger.info({ module: 'server' }, 'porthole stopped');
        await flush(logger);
        process.exit(EXIT.ok);
      })
      .catch(async (err: unknown) => {
        logger.error({ module: 'server', err }, 'error while shutting down');
        await flush(logger);
        process.exit(EXIT.failure);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
