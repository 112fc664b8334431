import { ConfigError } from '../../config/config-error.js';
import { readConfigFile } from '../../config/config-file.js';
import { parseGoDuration } from './duration.js';

/**
 * The options of `porthole-exporter api`. Each one is a flag, an environment variable and a key
 * of the config file, as dtr-prometheus-exporter's flag library has them; a flag wins over its
 * variable, the variable over the file, the file over the default.
 */
export interface ApiOptions {
  /** Registry base URL (scheme, host, port, optional path prefix), without a trailing slash. */
  connectionString: string;
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  username: string | undefined;
  password: string | undefined;
  enableTls: boolean;
  port: number;
  listenAddress: string;
  timeoutMs: number;
  intervalMs: number;
  jobCount: number;
  maxRepositories: number;
  verbose: boolean;
}

export type OptionName = keyof ApiOptions;

/** Where an option's value came from, named as the user wrote it (`--port`, `PORT`, `port`). */
export type OptionSources = Record<OptionName, string>;

/** Raw values as flags (strings) or a config file (any JSON scalar) give them. */
type Raw = string | number | boolean;

interface OptionSpec<T> {
  name: OptionName;
  flag: string;
  env: string;
  /** Key of the config file (same as `name`). */
  key: string;
  /** What the flag takes, for --help (`<url>`, `[bool]`). */
  argument: string;
  description: string;
  default: T | undefined;
  /** Shown in --help when the default is not a plain value. */
  defaultText?: string;
  /** Parses a raw value; throws an Error whose message says what is wrong (never the value of a secret). */
  parse(raw: Raw): T;
  secret?: boolean;
}

/** Go's strconv.ParseBool, which the seed's flag library uses for --enable-tls and --verbose. */
const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseBoolean(raw: Raw): boolean {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim();
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  throw new Error(`${JSON.stringify(String(raw))} is not a boolean: write true or false`);
}

function parseWhole(min: number, max: number, what: string): (raw: Raw) => number {
  return (raw) => {
    const text = String(raw).trim();
    const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new Error(`${JSON.stringify(String(raw))} is not ${what}`);
    return value;
  };
}

function parseDurationMs(raw: Raw): number {
  const text = String(raw).trim();
  const ms = parseGoDuration(text);
  if (ms === undefined) throw new Error(`${JSON.stringify(String(raw))} is not a duration: write a number and a unit, such as 10s, 1m30s or 500ms`);
  if (ms <= 0) throw new Error(`${JSON.stringify(String(raw))} must be longer than zero`);
  return ms;
}

function parseText(what: string): (raw: Raw) => string {
  return (raw) => {
    if (typeof raw !== 'string') throw new Error(`must be ${what} (a string)`);
    if (raw.trim() === '') throw new Error(`must be ${what}, not empty`);
    return raw;
  };
}

/** A secret: any string, never repeated in a message. */
function parseSecret(raw: Raw): string {
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new Error('must be a string');
  return String(raw);
}

/** The registry's base URL: http or https, no credentials in it (they would be logged), no query. */
export function parseConnectionString(raw: Raw): string {
  if (typeof raw !== 'string' || !URL.canParse(raw.trim())) {
    throw new Error(`${JSON.stringify(String(raw)).slice(0, 200)} is not a URL: give the registry's base URL with scheme and port, such as https://registry.example:5000`);
  }
  const url = new URL(raw.trim());
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${JSON.stringify(url.protocol.slice(0, -1))} is not a scheme a registry speaks: use http or https`);
  if (url.username !== '' || url.password !== '') throw new Error('must not hold credentials (they would show in every log line naming the target): give --username and --password');
  if (url.search !== '' || url.hash !== '') throw new Error(`${JSON.stringify(url.origin + url.pathname)}: a base URL takes no query or fragment`);
  // A path prefix is kept (a registry behind a reverse proxy under /registry); /v2/ is appended to it.
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v2$/, '');
  return `${url.origin}${path}`;
}

const SPECS: OptionSpec<unknown>[] = [
  { name: 'connectionString', flag: '--connection-string', env: 'CONNECTION_STRING', key: 'connectionString', argument: '<url>', description: 'registry base URL with scheme and port (required)', default: undefined, parse: parseConnectionString },
  { name: 'ca', flag: '--ca', env: 'REGISTRY_CA', key: 'ca', argument: '<file>', description: "PEM file of the CA(s) that signed the registry's certificate", default: undefined, parse: parseText('a file path') },
  { name: 'cert', flag: '--cert', env: 'REGISTRY_CERT', key: 'cert', argument: '<file>', description: 'PEM client certificate for mutual TLS (with --key)', default: undefined, parse: parseText('a file path') },
  { name: 'key', flag: '--key', env: 'REGISTRY_KEY', key: 'key', argument: '<file>', description: "PEM private key of the client certificate", default: undefined, parse: parseText('a file path') },
  { name: 'username', flag: '--username', env: 'REGISTRY_USERNAME', key: 'username', argument: '<user>', description: 'user for HTTP Basic and for the bearer-token flow', default: undefined, parse: parseText('a user name') },
  { name: 'password', flag: '--password', env: 'REGISTRY_PASSWORD', key: 'password', argument: '<password>', description: "that user's password", default: undefined, parse: parseSecret, secret: true },
  { name: 'enableTls', flag: '--enable-tls', env: 'ENABLE_TLS', key: 'enableTls', argument: '[bool]', description: "verify the registry's TLS certificate; false also allows plain http", default: true, parse: parseBoolean },
  { name: 'port', flag: '--port', env: 'PORT', key: 'port', argument: '<port>', description: 'port of /metrics (0: any free port)', default: 9580, parse: parseWhole(0, 65535, 'a port number from 0 to 65535') },
  { name: 'listenAddress', flag: '--listen-address', env: 'LISTEN_ADDRESS', key: 'listenAddress', argument: '<address>', description: 'address of /metrics', default: '0.0.0.0', parse: parseText('an address') },
  { name: 'timeoutMs', flag: '--timeout', env: 'TIMEOUT', key: 'timeout', argument: '<duration>', description: 'bound on one collection', default: 10_000, defaultText: '10s', parse: parseDurationMs },
  { name: 'intervalMs', flag: '--interval', env: 'INTERVAL', key: 'interval', argument: '<duration>', description: 'period of the background collection; a scrape serves the last result', default: 30_000, defaultText: '30s', parse: parseDurationMs },
  { name: 'jobCount', flag: '--job-count', env: 'JOB_COUNT', key: 'jobCount', argument: '<n>', description: 'recent job runs read from a porthole target', default: 100, parse: parseWhole(1, 1_000, 'a whole number from 1 to 1000 (porthole keeps the records of its last 1000 job runs)') },
  { name: 'maxRepositories', flag: '--max-repositories', env: 'MAX_REPOSITORIES', key: 'maxRepositories', argument: '<n>', description: 'the largest repositories get a label of their own; the rest are summed as _other', default: 1000, parse: parseWhole(0, 1_000_000, 'a whole number from 0 to 1000000') },
  { name: 'verbose', flag: '--verbose', env: 'VERBOSE', key: 'verbose', argument: '[bool]', description: 'debug logging', default: false, parse: parseBoolean },
];

export const API_OPTION_SPECS: readonly OptionSpec<unknown>[] = SPECS;
export const CONFIG_FILE_FLAG = '--config';
export const CONFIG_FILE_ENV = 'CONFIG_FILE';

/** The flags' values as commander gives them, by option name (absent: not given). */
export type FlagValues = Partial<Record<OptionName, string | boolean>> & { config?: string };

/**
 * Resolves every option from flags, the environment and the config file. Throws a ConfigError
 * with one line per problem, each naming the option as the user gave it.
 */
export async function resolveApiOptions(flags: FlagValues, env: NodeJS.ProcessEnv): Promise<{ options: ApiOptions; sources: OptionSources }> {
  const problems: string[] = [];
  const file = await readOptionsFile(flags, env);
  const values: Partial<Record<OptionName, unknown>> = {};
  const sources: Partial<OptionSources> = {};
  for (const spec of SPECS) {
    let raw: Raw | undefined;
    let source: string;
    const flag = flags[spec.name];
    const fromEnv = env[spec.env];
    if (flag !== undefined) {
      // `--enable-tls` or `--verbose` alone means true.
      raw = flag;
      source = spec.flag;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw = fromEnv;
      source = spec.env;
    } else if (file && Object.hasOwn(file.values, spec.key) && file.values[spec.key] !== null) {
      raw = file.values[spec.key] as Raw;
      source = `${spec.key} (${file.path})`;
    } else {
      values[spec.name] = spec.default;
      sources[spec.name] = 'default';
      continue;
    }
    sources[spec.name] = source;
    if (typeof raw === 'object') {
      problems.push(`${source}: must be a single value, not a list or a mapping`);
      continue;
    }
    try {
      values[spec.name] = spec.parse(raw);
    } catch (err) {
      problems.push(`${source}: ${(err as Error).message}`);
    }
  }
  if (file) {
    const known = new Set(SPECS.map((spec) => spec.key));
    for (const key of Object.keys(file.values)) {
      if (!known.has(key)) problems.push(`${key} (${file.path}): unknown key; the keys are ${[...known].join(', ')}`);
    }
  }
  if (values.connectionString === undefined && sources.connectionString === 'default') {
    problems.push(`${SPECS[0]?.flag} (or ${SPECS[0]?.env}, or connectionString in --config's file) is required: the registry's base URL with scheme and port, such as https://registry.example:5000`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const options = values as ApiOptions;
  const all = sources as OptionSources;
  if (options.connectionString.startsWith('http:') && options.enableTls) {
    problems.push(`${all.connectionString}: ${options.connectionString} is plain http, and ${all.enableTls === 'default' ? '--enable-tls is true by default' : `${all.enableTls} is true`}: use https, or --enable-tls=false to allow plain http`);
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    problems.push(options.cert === undefined ? `${all.key}: a client key needs its certificate (--cert)` : `${all.cert}: a client certificate needs its key (--key)`);
  }
  if (options.password !== undefined && options.username === undefined) problems.push(`${all.password}: a password needs a user name (--username)`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { options, sources: all };
}

async function readOptionsFile(flags: FlagValues, env: NodeJS.ProcessEnv): Promise<{ path: string; values: Record<string, unknown> } | undefined> {
  const [path, source] = flags.config !== undefined ? [flags.config, CONFIG_FILE_FLAG] : env[CONFIG_FILE_ENV] ? [env[CONFIG_FILE_ENV], CONFIG_FILE_ENV] : [undefined, ''];
  if (path === undefined) return undefined;
  try {
    const values = (await readConfigFile(path)) as Record<string, unknown>;
    return { path, values };
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.problems.map((problem) => `${source}: ${problem}`));
    throw err;
  }
}
