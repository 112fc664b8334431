#!/usr/bin/env node
import { Command, Option } from 'commander';
import { API_OPTION_SPECS, CONFIG_FILE_ENV, type FlagValues, type OptionName } from '../exporter/api/options.js';
import { EXIT } from './exit-codes.js';
import { versionText } from './version.js';

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
  // Each mode loads its own modules only when it runs: the API mode's resident memory is part of what it promises.
  .action(async (file: string, options: { portholeUsername?: string; portholePasswordFile?: string; portholeBearerTokenFile?: string }) => {
    const { runExporter } = await import('../exporter/run-config.js');
    await runExporter(file, { username: options.portholeUsername, passwordFile: options.portholePasswordFile, bearerTokenFile: options.portholeBearerTokenFile });
  });

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
  .action(async (options: Record<string, string | boolean | undefined>) => {
    const flags: FlagValues = {};
    if (typeof options.config === 'string') flags.config = options.config;
    for (const [attribute, name] of apiAttributes) {
      const value = options[attribute];
      if (value !== undefined) flags[name] = value;
    }
    const { runApiExporter } = await import('../exporter/api/run-api.js');
    await runApiExporter(flags, process.env);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`porthole-exporter: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT.failure);
});
