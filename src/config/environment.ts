import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';
import { configJsonSchema, isSection, typesOf, type JsonSchemaNode } from './json-schema.js';
import { closestKey } from './key-suggestions.js';

/**
 * Every configuration key can also be set by an environment variable, so that a container needs
 * no file: PORTHOLE_ and the key's path in upper snake case (http.port is PORTHOLE_HTTP_PORT,
 * storage.s3.forcePathStyle is PORTHOLE_STORAGE_S3_FORCE_PATH_STYLE). Flags override the
 * environment, and the environment overrides the file. docs/deploy.md lists them.
 */
export const VARIABLE_PREFIX = 'PORTHOLE_';

/** Variables under the prefix that are not configuration keys, and so never warned about. */
const OTHER_VARIABLES = new Set(['PORTHOLE_CONFIG', 'PORTHOLE_COMMIT', 'PORTHOLE_STARTUP_TIMEOUT']);
/** porthole-exporter's and porthole-bench's own variables, and the test suite's. */
const OTHER_PREFIXES = ['PORTHOLE_EXPORTER_', 'PORTHOLE_BENCH_', 'PORTHOLE_TEST_'];
/**
 * What Kubernetes puts in every pod for a Service named porthole (and Docker's legacy links for a
 * container of that name): PORTHOLE_SERVICE_HOST, PORTHOLE_PORT_5000_TCP_ADDR... Not the
 * operator's doing, so not warned about.
 */
const SERVICE_LINK = /^PORTHOLE_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

/** One key that a variable sets. */
export interface VariableKey {
  /** The dotted key, as docs/config.md names it. */
  key: string;
  variable: string;
  node: JsonSchemaNode;
}

/** `forcePathStyle` → `FORCE_PATH_STYLE`, `clientCA` → `CLIENT_CA`, `s3` → `S3`. */
function upperSnake(word: string): string {
  return word
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

/** The variable that sets a dotted key. */
export function variableOf(key: string): string {
  return VARIABLE_PREFIX + key.split('.').map(upperSnake).join('_');
}

function keysUnder(node: JsonSchemaNode, prefix: string): VariableKey[] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    // A section's keys each have their variable; a list or a map of free keys is set whole.
    return isSection(child) ? keysUnder(child, key) : [{ key, variable: variableOf(key), node: child }];
  });
}

let known: Map<string, VariableKey> | undefined;

/** Every variable that sets a key, by name, derived from the schema. */
export function variableKeys(): Map<string, VariableKey> {
  known ??= new Map(keysUnder(configJsonSchema(), '').map((entry) => [entry.variable, entry]));
  return known;
}

const BOOLEANS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A variable's text as the value its key takes; a string describing the problem when it cannot be. */
function valueOf(text: string, node: JsonSchemaNode): unknown {
  const types = typesOf(node);
  if (types.includes('null') && (text === '' || text === 'null')) return null;
  if (types.includes('boolean')) {
    const value = BOOLEANS[text.trim().toLowerCase()];
    if (value === undefined) throw new Error('must be true or false');
    return value;
  }
  if (types.includes('integer') || types.includes('number')) {
    if (!NUMBER.test(text.trim())) throw new Error('must be a number');
    return Number(text);
  }
  if (types.includes('array') || types.includes('object')) {
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch (err) {
      throw new Error(`is not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
    }
    // A list of strings may also be written a,b,c.
    if (types.includes('array') && typeof value === 'string' && typesOf(node.items ?? {}).includes('string')) return value.split(',').map((item) => item.trim());
    return value;
  }
  return text;
}

/** What the environment says of the configuration. */
export interface FromEnvironment {
  /** Values by dotted key, to be laid over the file. */
  overrides: Record<string, unknown>;
  /** The variable that set each key, to name in messages. */
  variables: Map<string, string>;
  /** Variables under the prefix that set nothing, each with the variable most likely meant. */
  ignored: Array<{ variable: string; suggestion?: string }>;
}

/** The configuration keys set in `env`; a ConfigError naming every variable whose value cannot be used. */
export function fromEnvironment(env: NodeJS.ProcessEnv): FromEnvironment {
  const keys = variableKeys();
  const result: FromEnvironment = { overrides: {}, variables: new Map(), ignored: [] };
  const problems: string[] = [];
  for (const [variable, text] of Object.entries(env)) {
    if (!variable.startsWith(VARIABLE_PREFIX) || text === undefined) continue;
    const entry = keys.get(variable);
    if (entry === undefined) {
      if (!OTHER_VARIABLES.has(variable) && !OTHER_PREFIXES.some((prefix) => variable.startsWith(prefix)) && !SERVICE_LINK.test(variable)) {
        result.ignored.push({ variable, suggestion: closestKey(variable, [...keys.keys()]) });
      }
      continue;
    }
    try {
      result.overrides[entry.key] = valueOf(text, entry.node);
      result.variables.set(entry.key, variable);
    } catch (err) {
      problems.push(`${variable} (${entry.key}): ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.sort());
  return result;
}

/**
 * A validation message about a key the environment set, with the variable named: the user wrote
 * PORTHOLE_HTTP_PORT, not http.port.
 */
export function withVariableNamed(line: string, variables: ReadonlyMap<string, string>): string {
  for (const [key, variable] of variables) {
    if (line.startsWith(`${key}:`)) return `${variable} (${key})${line.slice(key.length)}`;
  }
  return line;
}
