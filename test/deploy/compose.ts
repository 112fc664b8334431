import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMPOSE_FILE, DEPLOY_DIR, filesUnder, isObject, yamlFile } from './deploy-files.js';

/**
 * deploy/compose.yaml read as compose reads it, since no compose engine runs in the tests: the
 * project's .env, `${...}` interpolation, and the short and long forms of a service's environment,
 * mounts, ports and dependencies brought to one form each. Nothing here knows porthole.
 */

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string } | string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  profiles?: string[];
  ports?: Array<string | { target: number; published?: string | number; host_ip?: string }>;
  volumes?: Array<string | { type: string; source?: string; target: string }>;
  tmpfs?: string[] | string;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  stop_grace_period?: string;
  restart?: string;
  read_only?: boolean;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
}
export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** deploy/.env: what compose reads from the project directory. */
export function dotEnv(): Record<string, string> {
  const path = join(DEPLOY_DIR, '.env');
  if (!existsSync(path)) return {};
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** Compose's interpolation of one value: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $VAR. */
function interpolate(text: string, variables: Record<string, string>): string {
  const result = text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced?: string, operator?: string, argument?: string, bare?: string) => {
    if (match === '$$') return '\u0000';
    const name = (braced ?? bare) as string;
    const value = variables[name];
    const missing = operator?.startsWith(':') ? value === undefined || value === '' : value === undefined;
    if (operator?.endsWith('?')) assert.ok(!missing, `compose requires ${name}: ${argument}`);
    return missing ? (operator?.endsWith('-') ? (argument ?? '') : '') : (value as string);
  });
  assert.ok(!result.includes('${'), `"${text}": nested interpolation is not understood here`);
  return result.replace(/\u0000/g, '$');
}

/** Every string in a parsed compose file, interpolated. */
function interpolateAll(value: unknown, variables: Record<string, string>): unknown {
  if (typeof value === 'string') return interpolate(value, variables);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, variables));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, interpolateAll(child, variables)]));
  return value;
}

/** The compose file as written (raw) and as compose sees it with deploy/.env and no other variable (services). */
export function loadCompose(): ComposeFile & { raw: ComposeFile } {
  const raw = yamlFile<ComposeFile>(COMPOSE_FILE);
  return { ...(interpolateAll(raw, dotEnv()) as ComposeFile), raw };
}

/** A service's environment as a map, from either form; a name with no value (taken from the host) is left out, being unknown here. */
export function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) return Object.fromEntries(environment.filter((entry) => entry.includes('=')).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(environment).flatMap(([name, value]) => (value === null ? [] : [[name, String(value)]])));
}

export interface Mount {
  /** Absolute path of a bind mount's source. */
  source?: string;
  volume?: string;
  target: string;
}

/** A service's volumes in one form: a bind mount by the absolute path of its source, a named volume by its name. */
export function mountsOf(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((entry) => {
    if (typeof entry !== 'string') {
      return entry.type === 'bind' ? { source: resolve(DEPLOY_DIR, entry.source ?? ''), target: entry.target } : { volume: entry.source, target: entry.target };
    }
    const [source, target] = entry.split(':');
    if (target === undefined) return { target: source as string };
    return /^[./~]/.test(source as string) ? { source: resolve(DEPLOY_DIR, source as string), target } : { volume: source as string, target };
  });
}

/** Every file a service has mounted from the repository (files of mounted directories included). */
export function mountedFiles(service: ComposeService): string[] {
  return mountsOf(service).flatMap((mount) => {
    if (mount.source === undefined || !existsSync(mount.source)) return [];
    return statSync(mount.source).isDirectory() ? filesUnder(mount.source, () => true) : [mount.source];
  });
}

/** The repository path a service has mounted at `target`, if any. */
export function sourceMountedAt(service: ComposeService, target: string): string | undefined {
  return mountsOf(service).find((mount) => mount.target === target)?.source;
}

/** Each published port, host and container side; without a host side compose publishes it on the same number. */
export function publishedPorts(service: ComposeService): Array<{ host: number; container: number }> {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry !== 'string') return { host: Number(entry.published ?? entry.target), container: entry.target };
    const parts = entry.split('/')[0]?.split(':') ?? [];
    const container = Number(parts.at(-1));
    return { host: parts.length >= 2 ? Number(parts.at(-2)) : container, container };
  });
}

/** depends_on by service, with its condition; the list form means service_started. */
export function dependenciesOf(service: ComposeService): Record<string, string> {
  const dependsOn = service.depends_on ?? {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(dependsOn).map(([name, value]) => [name, value.condition ?? 'service_started']));
}

/** The names a service answers to on the project's network: its own and its aliases. */
export function namesOf(name: string, service: ComposeService): string[] {
  const networks = service.networks;
  const aliases = networks === undefined || Array.isArray(networks) ? [] : Object.values(networks).flatMap((network) => network?.aliases ?? []);
  return [name, ...aliases];
}

/** A compose or Go duration (`40s`, `1m30s`) in milliseconds. */
export function goDurationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|s|m|h)/g)];
  assert.ok(parts.length > 0 && parts.map((part) => part[0]).join('') === text, `"${text}" is not a duration`);
  const unit: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, part) => sum + Number(part[1]) * (unit[part[2] as string] as number), 0);
}
