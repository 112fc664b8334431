#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError } from '../config/load.js';
import { loadExporterConfig, type CredentialFlags } from '../exporter/config.js';
import { API_OPTION_SPECS, CONFIG_FILE_ENV, type FlagValues, type OptionName } from '../exporter/api/options.js';
import { runApiExporter } from '../exporter/api/run-api.js';
import { buildExporterApp } from '../exporter/exporter-app.js';
import { LogFile } from '../observability/log-files.js';
import { createLogger } from '../observability/logger.js';
import { EXIT } from './exit-codes.js';
import { keyToBlame } from './listen-failure.js';
import { versionText } from './version.js';

async function runExporter(file: string, flags: CredentialFlags): Promise<void> {
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

const program = new Command()
  .name('porthole-exporter')
  .description("porthole's companion exporter: `config` serves porthole's minimal-mode metrics snapshot in Prometheus format; `api` scrapes any OCI registry's REST API and exports its state.")
  .version(versionText('porthole-exporter'), '-V, --version', 'print the version and the commit')
  .showHelpAfterError();

program
  .command('config')
  .description('Run with the settings of a JSON or YAML file ({"Server": {...}, "Exporter": {...}}).')
  .argument('<file>', 'configuration file')
  // Credentials for porthole's extensions.metrics.auth. Files, not values: a password on the
  // command line or in the environment would show in `ps` and /proc. Given, they replace the
  // file's credentials (Server.username, password, passwordFromEnv, passwordFile, bearerTokenFile).
  .addOption(new Option('--porthole-username <user>', 'user to send porthole with HTTP Basic (Server.username)').env('PORTHOLE_EXPORTER_USERNAME'))
  .addOption(new Option('--porthole-password-file <path>', "file holding that user's password (Server.passwordFile)").env('PORTHOLE_EXPORTER_PASSWORD_FILE'))
  .addOption(new Option('--porthole-bearer-token-file <path>', 'file holding a token to send porthole as Authorization: Bearer (Server.bearerTokenFile)').env('PORTHOLE_EXPORTER_BEARER_TOKEN_FILE'))
  .action((file: string, options: { portholeUsername?: string; portholePasswordFile?: string; portholeBearerTokenFile?: string }) =>
    runExporter(file, { username: options.portholeUsername, passwordFile: options.portholePasswordFile, bearerTokenFile: options.portholeBearerTokenFile }),
  );

const api = program
  .command('api')
  .description(
    'Scrape any OCI registry (docker-registry, zot, Harbor, porthole) through its REST API in the background and export its state as oci_registry_* metrics. ' +
      'Every option is also an environment variable and a config file key; flags win over the environment, the environment over the file.',
  )
  .addOption(new Option('--config <file>', `YAML or JSON file of options by key (env ${CONFIG_FILE_ENV})`));
/** commander's attribute of each flag (--timeout: timeout) -> the option it sets (timeoutMs). */
const apiAttributes = new Map<string, OptionName>();
for (const spec of API_OPTION_SPECS) {
  const shown = spec.default === undefined ? '' : `; default ${spec.defaultText ?? String(spec.default)}`;
  const option = new Option(`${spec.flag} ${spec.argument}`, `${spec.description} (env ${spec.env}, file key ${spec.key}${shown})`);
  apiAttributes.set(option.attributeName(), spec.name);
  api.addOption(option);
}
api
  // A flag commander cannot take (unknown, or without its value) is a bad configuration too: exit 2.
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.badConfig);
  })
  .action((options: Record<string, string | boolean | undefined>) => {
    const flags: FlagValues = {};
    if (typeof options.config === 'string') flags.config = options.config;
    for (const [attribute, name] of apiAttributes) {
      const value = options[attribute];
      if (value !== undefined) flags[name] = value;
    }
    return runApiExporter(flags, process.env);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`porthole-exporter: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT.failure);
});
