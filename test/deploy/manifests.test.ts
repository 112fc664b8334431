import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { durationMs } from '../../src/config/durations.js';
import { fromEnvironment, variableKeys } from '../../src/config/environment.js';
import { validateConfig, withOverrides } from '../../src/config/load.js';
import type { PortholeConfig } from '../../src/config/schema.js';
import { exporterConfigSchema } from '../../src/exporter/config.js';

/**
 * deploy/: the compose project and the Kubernetes manifests. No compose engine and no cluster run
 * here, so they are checked for structure: every file parses, every path they name exists, and
 * what they say of porthole agrees with the Containerfile (ports, user, volume, configuration
 * file) and with porthole itself (every PORTHOLE_* variable is a configuration key, and the
 * configuration the file and the variables make passes porthole's validation). The Kubernetes
 * layouts are put together as Kustomize would (resources, generators, components, strategic merge
 * patches) before they are checked. Only files are read.
 */

// dist/test/deploy -> the checkout.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
const KUBERNETES_DIR = join(DEPLOY_DIR, 'kubernetes');
const COMPOSE_FILE = join(DEPLOY_DIR, 'compose.yaml');
const IMAGE_CONFIG_FILE = join(DEPLOY_DIR, 'container', 'config.yaml');
const ALERTS_FILE = join(REPO_ROOT, 'observability', 'prometheus', 'alerts.yml');
/** What the compose file calls porthole's image, built from the repository. */
const PORTHOLE_IMAGE = '${PORTHOLE_IMAGE:-localhost/porthole:latest}';
/** The jobs the dashboards and alerts select (observability/prometheus/prometheus.yml). */
const JOBS = ['porthole', 'porthole-exporter', 'oci-registry-exporter', 'pushgateway'];

/** PORTHOLE_* variables that are porthole's without being configuration keys. */
const OTHER_VARIABLES = new Set(['PORTHOLE_CONFIG', 'PORTHOLE_COMMIT', 'PORTHOLE_STARTUP_TIMEOUT']);
const OTHER_PREFIXES = ['PORTHOLE_EXPORTER_', 'PORTHOLE_BENCH_'];

function isPortholeVariable(name: string): boolean {
  return variableKeys().has(name) || OTHER_VARIABLES.has(name) || OTHER_PREFIXES.some((prefix) => name.startsWith(prefix));
}

type Json = Record<string, unknown>;
function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shown(path: string): string {
  return relative(REPO_ROOT, path);
}

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? filesUnder(path, keep) : keep(path) ? [path] : [];
    });
}

const isYaml = (path: string) => /\.ya?ml$/.test(path);

/** Every document of a YAML file, as plain values; a parse error fails the test, naming the file. */
function yamlDocuments(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true });
  for (const document of documents) assert.deepEqual(document.errors.map((err) => err.message), [], `${shown(path)} does not parse`);
  return documents.map((document) => document.toJS() as unknown).filter((value) => value !== null && value !== undefined);
}

function yamlFile<T>(path: string): T {
  return parse(readFileSync(path, 'utf8'), { merge: true }) as T;
}

/** A compose or Go duration (`40s`, `1m30s`) in milliseconds. */
function goDurationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|s|m|h)/g)];
  assert.ok(parts.length > 0 && parts.map((part) => part[0]).join('') === text, `"${text}" is not a duration`);
  const unit: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, part) => sum + Number(part[1]) * (unit[part[2] as string] as number), 0);
}

function hostAndPort(url: string): { host: string; port: number; path: string } {
  const parsed = new URL(url);
  const port = parsed.port === '' ? ({ 'http:': 80, 'https:': 443, 'redis:': 6379, 'rediss:': 6379 }[parsed.protocol] ?? 0) : Number(parsed.port);
  return { host: parsed.hostname, port, path: parsed.pathname };
}

// ---- the image ----------------------------------------------------------------------------------

interface ImageFacts {
  expose: number[];
  uid: number;
  gid: number;
  volumes: string[];
  env: Record<string, string>;
  /** Where the image's own configuration file is copied to, by source. */
  copies: Array<{ from: string; to: string }>;
  healthcheck: string[];
  cmd: string[];
}

/** The runtime stage of the Containerfile: the last FROM and what follows it. */
function imageFacts(): ImageFacts {
  const text = readFileSync(join(REPO_ROOT, 'Containerfile'), 'utf8');
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const fromIndex = lines.map((line) => /^FROM\s/i.test(line)).lastIndexOf(true);
  const stage = lines.slice(fromIndex);
  const instruction = (name: string) => stage.filter((line) => new RegExp(`^${name}\\s`, 'i').test(line)).map((line) => line.slice(name.length).trim());
  const jsonOrWords = (text: string) => (text.startsWith('[') ? (JSON.parse(text) as string[]) : text.split(/\s+/));
  const user = instruction('USER').at(-1) ?? '';
  const userMatch = /^(\d+)(?::(\d+))?$/.exec(user);
  assert.ok(userMatch, `the Containerfile's USER "${user}" is numeric (uid:gid), as runAsNonRoot needs`);
  const env: Record<string, string> = {};
  for (const line of instruction('ENV')) for (const match of line.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[match[1] as string] = (match[2] as string).replace(/^"|"$/g, '');
  const healthcheck = instruction('HEALTHCHECK').at(-1) ?? '';
  return {
    expose: instruction('EXPOSE').flatMap((line) => line.split(/\s+/).map((port) => Number(port.split('/')[0]))),
    uid: Number(userMatch[1]),
    gid: Number(userMatch[2] ?? userMatch[1]),
    volumes: instruction('VOLUME').flatMap(jsonOrWords),
    env,
    copies: instruction('COPY')
      .filter((line) => !line.startsWith('--from'))
      .map((line) => line.split(/\s+/))
      .map((words) => ({ from: words[0] as string, to: words[words.length - 1] as string })),
    healthcheck: jsonOrWords(healthcheck.replace(/^.*?\bCMD\s+/, '')),
    cmd: jsonOrWords(instruction('CMD').at(-1) ?? '[]'),
  };
}

const IMAGE = imageFacts();
/** The configuration file the image reads (PORTHOLE_CONFIG) and its content there. */
const IMAGE_CONFIG_PATH = IMAGE.env.PORTHOLE_CONFIG ?? '';
const IMAGE_CONFIG = yamlFile<unknown>(IMAGE_CONFIG_FILE);

/** porthole's configuration from a file's content and PORTHOLE_* variables, as `porthole serve` makes it. */
function effectiveConfig(file: unknown, env: Record<string, string>, where: string): PortholeConfig {
  let environment: ReturnType<typeof fromEnvironment>;
  try {
    environment = fromEnvironment(env);
  } catch (err) {
    assert.fail(`${where}: ${(err as Error).message}`);
  }
  assert.deepEqual(
    environment.ignored.map((entry) => entry.variable),
    [],
    `${where}: PORTHOLE_* variables that set no configuration key`,
  );
  try {
    return validateConfig(withOverrides(file, environment.overrides));
  } catch (err) {
    assert.fail(`${where}: the configuration does not validate: ${(err as Error).message}`);
  }
}

/** Where a porthole serves Prometheus text, or undefined in minimal mode. */
function metricsPort(config: PortholeConfig): number | undefined {
  const metrics = config.extensions.metrics;
  if (metrics === undefined || !metrics.enable) return undefined;
  return metrics.port ?? config.http.port;
}

describe('the image that deploy/ runs', () => {
  it('is what the Containerfile says, and its own configuration is the one it copies', () => {
    assert.ok(IMAGE.expose.length > 0 && IMAGE.expose.every((port) => Number.isInteger(port)), `EXPOSE: ${IMAGE.expose.join(' ')}`);
    assert.equal(IMAGE.volumes.length, 1, 'one VOLUME');
    assert.ok(IMAGE_CONFIG_PATH.startsWith('/'), 'ENV PORTHOLE_CONFIG names the configuration file');
    assert.ok(
      IMAGE.copies.some((copy) => copy.from === 'deploy/container/config.yaml' && copy.to === IMAGE_CONFIG_PATH),
      `the Containerfile copies deploy/container/config.yaml to PORTHOLE_CONFIG (${IMAGE_CONFIG_PATH})`,
    );
    assert.deepEqual(IMAGE.healthcheck, ['porthole', 'health']);
    assert.deepEqual(IMAGE.cmd, ['porthole', 'serve']);
    const config = effectiveConfig(IMAGE_CONFIG, {}, shown(IMAGE_CONFIG_FILE));
    assert.ok(IMAGE.expose.includes(config.http.port), `http.port ${config.http.port} is exposed`);
    const metrics = metricsPort(config);
    assert.ok(metrics !== undefined && IMAGE.expose.includes(metrics), `the metrics port ${String(metrics)} is exposed`);
    assert.equal(config.storage.filesystem.rootDirectory, IMAGE.volumes[0], 'the storage root is the volume');
  });
});

// ---- every file ---------------------------------------------------------------------------------

/** Every PORTHOLE_* variable a container is given: Kubernetes env lists, compose environment maps and lists. */
function variablesSet(value: unknown, path: string[], found: Array<{ name: string; path: string[] }>): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => variablesSet(item, [...path, String(index)], found));
    return;
  }
  if (!isObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'env' && Array.isArray(child)) {
      for (const entry of child) if (isObject(entry) && typeof entry.name === 'string') found.push({ name: entry.name, path: [...path, key] });
    }
    if (key === 'environment' && isObject(child)) for (const name of Object.keys(child)) found.push({ name, path: [...path, key] });
    if (key === 'environment' && Array.isArray(child)) for (const entry of child) found.push({ name: String(entry).split('=')[0] as string, path: [...path, key] });
    variablesSet(child, [...path, key], found);
  }
}

describe('deploy/, file by file', () => {
  const yamlFiles = filesUnder(DEPLOY_DIR, isYaml);

  it('every YAML file parses, every document of it, and every JSON file', () => {
    assert.ok(yamlFiles.length > 10, `YAML files under deploy/: ${yamlFiles.length}`);
    for (const file of yamlFiles) assert.ok(yamlDocuments(file).length > 0, `${shown(file)} holds a document`);
    for (const file of filesUnder(DEPLOY_DIR, (path) => path.endsWith('.json'))) {
      assert.doesNotThrow(() => JSON.parse(readFileSync(file, 'utf8')), `${shown(file)} is JSON`);
    }
  });

  it('every PORTHOLE_* variable set anywhere is one porthole reads', () => {
    const compose = loadCompose();
    let count = 0;
    for (const file of yamlFiles) {
      for (const document of yamlDocuments(file)) {
        const found: Array<{ name: string; path: string[] }> = [];
        variablesSet(document, [], found);
        for (const { name, path } of found.filter((entry) => entry.name.startsWith('PORTHOLE_'))) {
          count += 1;
          if (isPortholeVariable(name)) continue;
          // Another program's variable of the same prefix: Grafana's provisioning reads
          // PORTHOLE_PROMETHEUS_URL. Allowed where a file mounted into that service uses it.
          const service = file === COMPOSE_FILE && path[0] === 'services' ? path[1] : undefined;
          const spec = service === undefined ? undefined : compose.services[service];
          assert.ok(spec !== undefined && !isPortholeImage(spec), `${shown(file)} ${path.join('.')}: ${name} is not a porthole configuration variable`);
          const users = mountedFiles(spec).filter((mounted) => readFileSync(mounted, 'utf8').includes(`\${${name}}`));
          assert.ok(users.length > 0, `${shown(file)} ${path.join('.')}: ${name} is neither porthole's nor read by a file mounted into ${service}`);
        }
      }
    }
    assert.ok(count > 20, `PORTHOLE_* variables found: ${count}`);
  });
});

// ---- Kubernetes ---------------------------------------------------------------------------------

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path?: string; port: string | number };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type?: string };
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
  securityContext?: SecurityContext;
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string };
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  emptyDir?: unknown;
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
}
interface DeploymentSpec {
  replicas?: number;
  strategy?: { type?: string };
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
interface ServiceSpec {
  selector: Record<string, string>;
  ports: Array<{ name?: string; port: number; targetPort?: string | number }>;
}
interface MonitorEndpoint {
  port: string;
  path?: string;
  relabelings?: Array<{ action?: string; sourceLabels?: string[]; targetLabel?: string; replacement?: string }>;
}
interface MonitorSpec {
  selector: { matchLabels: Record<string, string> };
  endpoints?: MonitorEndpoint[];
  podMetricsEndpoints?: MonitorEndpoint[];
}
interface Generator {
  name: string;
  files?: string[];
  literals?: string[];
}
interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  components?: string[];
  patches?: Array<{ path?: string; patch?: string; target?: { kind?: string; name?: string } }>;
  patchesStrategicMerge?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  images?: ImageEntry[];
}

/** The directories of every kustomization.yaml under deploy/kubernetes. */
const KUSTOMIZATION_DIRS = filesUnder(KUBERNETES_DIR, (path) => basename(path) === 'kustomization.yaml').map(dirname);

function kustomization(dir: string): Kustomization {
  return yamlFile<Kustomization>(join(dir, 'kustomization.yaml'));
}

/** A generator's `files` entry: `path` or `key=path`. */
function generatorFile(entry: string): { key: string; path: string } {
  const [key, path] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [basename(entry), entry];
  return { key, path };
}

function kubeDocuments(path: string): KubeObject[] {
  return yamlDocuments(path) as KubeObject[];
}

/** Lists merged item by item on these keys, as Kubernetes' strategic merge patch does; other lists are replaced. */
const MERGE_KEYS: Record<string, string[]> = {
  containers: ['name'],
  initContainers: ['name'],
  env: ['name'],
  volumes: ['name'],
  volumeMounts: ['mountPath'],
  ports: ['containerPort', 'port'],
  imagePullSecrets: ['name'],
};

function strategicMerge(base: unknown, patch: unknown, key = ''): unknown {
  if (Array.isArray(patch)) {
    const mergeKey = (MERGE_KEYS[key] ?? []).find((name) => patch.some((item) => isObject(item) && name in item));
    if (!Array.isArray(base) || mergeKey === undefined) return patch;
    const merged = [...base] as unknown[];
    for (const item of patch) {
      const index = merged.findIndex((existing) => isObject(existing) && isObject(item) && existing[mergeKey] === item[mergeKey]);
      if (isObject(item) && item.$patch === 'delete') {
        if (index >= 0) merged.splice(index, 1);
      } else if (index >= 0) merged[index] = strategicMerge(merged[index], item);
      else merged.push(item);
    }
    return merged;
  }
  if (!isObject(patch)) return patch;
  if (patch.$patch === 'replace') return Object.fromEntries(Object.entries(patch).filter(([name]) => name !== '$patch'));
  const merged: Json = isObject(base) ? { ...base } : {};
  for (const [name, value] of Object.entries(patch)) {
    if (name === '$patch') continue;
    if (value === null) delete merged[name];
    else merged[name] = strategicMerge(merged[name], value, name);
  }
  return merged;
}

/** What a kustomization (or several) puts together. */
interface Layout {
  objects: KubeObject[];
  images: ImageEntry[];
  /** Every directory it was made from: where example Secrets are looked for. */
  dirs: string[];
}

/** Adds a kustomization's or component's resources, generated objects, components and patches to `layout`. */
function accumulate(dir: string, layout: Layout, extraComponents: string[] = []): void {
  const k = kustomization(dir);
  layout.dirs.push(dir);
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) accumulate(path, layout);
    else layout.objects.push(...kubeDocuments(path));
  }
  for (const [kind, generators] of [
    ['ConfigMap', k.configMapGenerator ?? []],
    ['Secret', k.secretGenerator ?? []],
  ] as const) {
    for (const generator of generators) {
      const data: Record<string, string> = {};
      for (const entry of generator.files ?? []) data[generatorFile(entry).key] = readFileSync(resolve(dir, generatorFile(entry).path), 'utf8');
      for (const literal of generator.literals ?? []) data[literal.split('=')[0] as string] = literal.slice(literal.indexOf('=') + 1);
      layout.objects.push({ apiVersion: 'v1', kind, metadata: { name: generator.name }, ...(kind === 'ConfigMap' ? { data } : { stringData: data }) });
    }
  }
  for (const component of [...(k.components ?? []).map((entry) => resolve(dir, entry)), ...extraComponents]) accumulate(component, layout);
  const patches = [...(k.patches ?? []), ...(k.patchesStrategicMerge ?? []).map((path) => ({ path, patch: undefined, target: undefined }))];
  for (const patch of patches) {
    const documents = patch.path !== undefined ? kubeDocuments(resolve(dir, patch.path)) : (parseAllDocuments(patch.patch ?? '').map((document) => document.toJS()) as KubeObject[]);
    for (const document of documents) {
      const target = { kind: patch.target?.kind ?? document.kind, name: patch.target?.name ?? document.metadata.name };
      const index = layout.objects.findIndex((object) => object.kind === target.kind && object.metadata.name === target.name);
      assert.ok(index >= 0, `${shown(dir)}: the patch ${patch.path ?? ''} of ${target.kind} ${target.name} matches nothing`);
      if ((document as unknown as Json).$patch === 'delete') layout.objects.splice(index, 1);
      else layout.objects[index] = strategicMerge(layout.objects[index], document) as KubeObject;
    }
  }
  layout.images.push(...(k.images ?? []));
}

function build(dir: string, components: string[] = []): Layout {
  const layout: Layout = { objects: [], images: [], dirs: [] };
  accumulate(dir, layout, components);
  return layout;
}

function objectsOf(layout: Layout, kind: string): KubeObject[] {
  return layout.objects.filter((object) => object.kind === kind);
}

function specOf<T>(object: KubeObject): T {
  return object.spec as T;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([name, value]) => labels?.[name] === value);
}

/** The value a container gets for an env entry: its value, or what its reference would give. */
function envValue(layout: Layout, entry: EnvVar, where: string): string {
  if (entry.value !== undefined) return entry.value;
  const from = entry.valueFrom;
  if (from?.fieldRef !== undefined) {
    assert.equal(from.fieldRef.fieldPath, 'metadata.name', `${where}: ${entry.name} from the downward API`);
    return 'porthole-5d8f7b9c4-x2k4q';
  }
  const ref = from?.secretKeyRef ?? from?.configMapKeyRef;
  assert.ok(ref !== undefined, `${where}: ${entry.name} has a value or a reference`);
  const kind = from?.secretKeyRef !== undefined ? 'Secret' : 'ConfigMap';
  // A Secret the operator creates is shown by an example beside the kustomization, never applied.
  const examples = layout.dirs.flatMap((dir) => readdirSync(dir).filter((file) => file.endsWith('.example.yaml')).flatMap((file) => kubeDocuments(join(dir, file))));
  const source = [...layout.objects, ...examples].find((object) => object.kind === kind && object.metadata.name === ref.name);
  assert.ok(source !== undefined, `${where}: ${entry.name} names the ${kind} ${ref.name}, which is neither in the layout nor in an example beside it`);
  const value = source.data?.[ref.key] ?? source.stringData?.[ref.key];
  assert.ok(value !== undefined, `${where}: the ${kind} ${ref.name} has no key ${ref.key}`);
  return value;
}

/** The configuration file a porthole container reads, from its mounts (or the image's own file). */
function mountedConfig(layout: Layout, pod: PodSpec, container: Container, where: string): unknown {
  const path = container.env?.find((entry) => entry.name === 'PORTHOLE_CONFIG')?.value ?? IMAGE_CONFIG_PATH;
  for (const mount of container.volumeMounts ?? []) {
    let key: string | undefined;
    if (mount.mountPath === path) key = mount.subPath;
    else if (mount.mountPath === dirname(path) && mount.subPath === undefined) key = basename(path);
    if (key === undefined) continue;
    const volume = pod.volumes?.find((candidate) => candidate.name === mount.name);
    assert.ok(volume?.configMap !== undefined, `${where}: ${path} comes from a ConfigMap volume`);
    const item = volume.configMap.items?.find((candidate) => candidate.path === key);
    if (volume.configMap.items !== undefined) {
      assert.ok(item !== undefined, `${where}: the ConfigMap volume ${volume.name} has no item at ${key}`);
      key = item.key;
    }
    const configMap = objectsOf(layout, 'ConfigMap').find((object) => object.metadata.name === volume.configMap?.name);
    assert.ok(configMap !== undefined, `${where}: the ConfigMap ${volume.configMap.name} is in the layout`);
    const text = configMap.data?.[key];
    assert.ok(text !== undefined, `${where}: the ConfigMap ${configMap.metadata.name} has a key ${key}`);
    return parse(text) as unknown;
  }
  return IMAGE_CONFIG;
}

function commandOf(container: Container): string[] {
  return [...(container.command ?? []), ...(container.args ?? [])];
}

function preStopSeconds(container: Container): number {
  const command = container.lifecycle?.preStop?.exec?.command ?? [];
  return command[0] === 'sleep' ? Number(command[1]) : 0;
}

function setsJobToPorthole(endpoint: MonitorEndpoint): boolean {
  return (endpoint.relabelings ?? []).some((rule) => (rule.action ?? 'replace') === 'replace' && rule.targetLabel === 'job' && rule.replacement === 'porthole' && rule.sourceLabels === undefined);
}

/** Everything that must hold of a layout that runs porthole; returns what its checks found. */
function checkLayout(name: string, layout: Layout): { replicas: number; config: PortholeConfig } {
  const deployments = objectsOf(layout, 'Deployment').filter((object) => specOf<DeploymentSpec>(object).template.spec.containers.some((container) => container.image === 'porthole'));
  assert.equal(deployments.length, 1, `${name}: one Deployment runs porthole`);
  const deployment = deployments[0] as KubeObject;
  const spec = specOf<DeploymentSpec>(deployment);
  const pod = spec.template.spec;
  const podLabels = spec.template.metadata.labels;
  const where = `${name}: Deployment ${deployment.metadata.name}`;
  assert.ok(matches(spec.selector.matchLabels, podLabels), `${where}: its selector matches its pods`);
  assert.ok(
    layout.images.some((image) => image.name === 'porthole' && image.newName !== undefined),
    `${where}: an images entry sets the real name of the image "porthole"`,
  );
  const container = pod.containers.find((candidate) => candidate.image === 'porthole') as Container;
  const at = `${where}, container ${container.name}`;
  const command = commandOf(container);
  assert.ok(command.length === 0 || command.join(' ') === IMAGE.cmd.join(' '), `${at}: runs ${IMAGE.cmd.join(' ')}`);

  // Ports and probes.
  const ports = container.ports ?? [];
  assert.deepEqual(ports.map((port) => port.containerPort).sort(), [...IMAGE.expose].sort(), `${at}: its ports are the image's EXPOSE`);
  for (const port of ports) assert.ok(port.name !== undefined, `${at}: port ${port.containerPort} is named`);
  const portNumber = (port: string | number) => (typeof port === 'number' ? port : ports.find((candidate) => candidate.name === port)?.containerPort);

  // The configuration: the mounted file and the variables over it.
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    assert.ok(entry.name.startsWith('PORTHOLE_') ? isPortholeVariable(entry.name) : true, `${at}: ${entry.name} is not a porthole variable`);
    env[entry.name] = envValue(layout, entry, at);
  }
  const config = effectiveConfig(mountedConfig(layout, pod, container, at), env, at);

  for (const [probe, path] of [
    ['startupProbe', '/startupz'],
    ['livenessProbe', '/livez'],
    ['readinessProbe', '/readyz'],
  ] as const) {
    const httpGet = container[probe]?.httpGet;
    assert.equal(httpGet?.path, path, `${at}: ${probe} asks ${path}`);
    const number = portNumber(httpGet.port);
    assert.ok(number !== undefined, `${at}: ${probe}'s port ${httpGet.port} is a port of the container`);
    assert.equal(number, config.http.port, `${at}: ${probe} asks porthole's http.port`);
  }
  const metrics = metricsPort(config);
  if (metrics !== undefined) assert.equal(portNumber('metrics'), metrics, `${at}: the port named metrics is where porthole serves them`);
  assert.equal(portNumber('registry'), config.http.port, `${at}: the port named registry is http.port`);

  // Who the process runs as, and what it may do.
  const podSecurity = pod.securityContext ?? {};
  const security = { ...podSecurity, ...container.securityContext };
  assert.equal(security.runAsNonRoot, true, `${at}: runAsNonRoot`);
  assert.equal(security.runAsUser, IMAGE.uid, `${at}: runAsUser is the image's USER`);
  assert.equal(security.runAsGroup, IMAGE.gid, `${at}: runAsGroup is the image's group`);
  assert.equal(podSecurity.fsGroup, IMAGE.gid, `${at}: fsGroup is the image's group`);
  assert.equal(security.readOnlyRootFilesystem, true, `${at}: readOnlyRootFilesystem`);
  assert.equal(security.allowPrivilegeEscalation, false, `${at}: allowPrivilegeEscalation false`);
  assert.ok(security.capabilities?.drop?.includes('ALL'), `${at}: drops every capability`);
  assert.equal(security.seccompProfile?.type, 'RuntimeDefault', `${at}: RuntimeDefault seccomp profile`);
  assert.ok(container.resources?.requests?.memory !== undefined && container.resources.limits?.memory !== undefined, `${at}: memory request and limit`);

  // Stopping: the grace period outlasts the preStop pause and porthole's drain.
  const drainSeconds = durationMs(config.http.shutdownTimeout) / 1000 + preStopSeconds(container);
  assert.ok((pod.terminationGracePeriodSeconds ?? 30) > drainSeconds, `${at}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > ${drainSeconds}s of preStop and drain`);

  // Volumes: every mount has its volume, every volume its object, the storage root is the image's VOLUME.
  const volumes = pod.volumes ?? [];
  for (const mount of container.volumeMounts ?? []) assert.ok(volumes.some((volume) => volume.name === mount.name), `${at}: the mount ${mount.mountPath} has its volume ${mount.name}`);
  for (const volume of volumes) {
    const claim = volume.persistentVolumeClaim?.claimName;
    if (claim !== undefined) assert.ok(objectsOf(layout, 'PersistentVolumeClaim').some((object) => object.metadata.name === claim), `${where}: the claim ${claim} is in the layout`);
  }
  const dataMount = container.volumeMounts?.find((mount) => mount.mountPath === IMAGE.volumes[0]);
  assert.ok(dataMount !== undefined, `${at}: a volume at the image's VOLUME ${IMAGE.volumes[0]}`);
  const dataVolume = volumes.find((volume) => volume.name === dataMount.name);
  assert.ok(container.volumeMounts?.some((mount) => mount.mountPath === '/tmp'), `${at}: /tmp is writable on the read-only root`);

  // Several replicas, or one that owns a volume.
  const replicas = spec.replicas ?? 1;
  if (config.storage.driver === 'filesystem') {
    assert.equal(config.storage.filesystem.rootDirectory, IMAGE.volumes[0], `${at}: the storage root is the volume's mount`);
    const claim = objectsOf(layout, 'PersistentVolumeClaim').find((object) => object.metadata.name === dataVolume?.persistentVolumeClaim?.claimName);
    assert.ok(claim !== undefined, `${at}: the local-disk driver keeps its content on a PersistentVolumeClaim, not on ${JSON.stringify(dataVolume)}`);
    assert.equal(replicas, 1, `${where}: one replica on the local disk`);
    const modes = (claim.spec as { accessModes?: string[] }).accessModes ?? [];
    if (modes.includes('ReadWriteOnce')) assert.equal(spec.strategy?.type, 'Recreate', `${where}: Recreate, since a ReadWriteOnce volume cannot be shared during a rolling update`);
  } else {
    assert.equal(objectsOf(layout, 'PersistentVolumeClaim').length, 0, `${name}: no claim is left over on ${config.storage.driver}`);
    assert.ok(config.redis !== undefined, `${where}: several replicas share Redis`);
  }
  if (replicas > 1) {
    assert.equal(config.storage.driver, 's3', `${where}: ${replicas} replicas share a bucket`);
    assert.equal(spec.strategy?.type ?? 'RollingUpdate', 'RollingUpdate', `${where}: rolling updates`);
    const replicaId = container.env?.find((entry) => entry.name === 'PORTHOLE_REPLICA_ID');
    assert.ok(replicaId === undefined || replicaId.valueFrom?.fieldRef?.fieldPath === 'metadata.name', `${where}: each replica's id is its own pod's name, not one value for all`);
    const budgets = objectsOf(layout, 'PodDisruptionBudget').filter((object) => matches(specOf<{ selector: { matchLabels: Record<string, string> } }>(object).selector.matchLabels, podLabels));
    assert.equal(budgets.length, 1, `${where}: a PodDisruptionBudget covers the replicas`);
  }

  // A Service named porthole would put PORTHOLE_SERVICE_HOST and the like into the pods' environment.
  const serviceVariables = objectsOf(layout, 'Service').some((service) => `${service.metadata.name.toUpperCase().replace(/-/g, '_')}_`.startsWith('PORTHOLE_'));
  if (serviceVariables) assert.equal(pod.enableServiceLinks, false, `${where}: enableServiceLinks false, or porthole reads the Service's variables as its own`);

  // The Service and the monitors name ports that exist.
  for (const service of objectsOf(layout, 'Service')) {
    const serviceSpec = specOf<ServiceSpec>(service);
    if (!matches(serviceSpec.selector, podLabels)) continue;
    for (const port of serviceSpec.ports) {
      assert.ok(port.name !== undefined, `${name}: Service ${service.metadata.name}: port ${port.port} is named`);
      assert.ok(portNumber(port.targetPort ?? port.port) !== undefined, `${name}: Service ${service.metadata.name}: targetPort ${String(port.targetPort)} is a port of the container`);
    }
  }
  for (const monitor of [...objectsOf(layout, 'ServiceMonitor'), ...objectsOf(layout, 'PodMonitor')]) {
    const monitorSpec = specOf<MonitorSpec>(monitor);
    const endpoints = monitorSpec.endpoints ?? monitorSpec.podMetricsEndpoints ?? [];
    assert.ok(endpoints.length > 0, `${name}: ${monitor.kind} ${monitor.metadata.name} has endpoints`);
    for (const endpoint of endpoints) {
      let target: number | undefined;
      if (monitor.kind === 'ServiceMonitor') {
        const service = objectsOf(layout, 'Service').find((candidate) => matches(monitorSpec.selector.matchLabels, candidate.metadata.labels));
        assert.ok(service !== undefined, `${name}: ServiceMonitor ${monitor.metadata.name} selects a Service by its labels`);
        const port = specOf<ServiceSpec>(service).ports.find((candidate) => candidate.name === endpoint.port);
        assert.ok(port !== undefined, `${name}: ServiceMonitor ${monitor.metadata.name}: the Service has a port named ${endpoint.port}`);
        target = portNumber(port.targetPort ?? port.port);
      } else {
        assert.ok(matches(monitorSpec.selector.matchLabels, podLabels), `${name}: PodMonitor ${monitor.metadata.name} selects porthole's pods`);
        target = portNumber(endpoint.port);
        assert.ok(target !== undefined, `${name}: PodMonitor ${monitor.metadata.name}: the pods have a port named ${endpoint.port}`);
      }
      assert.equal(target, metrics, `${name}: ${monitor.kind} ${monitor.metadata.name} scrapes porthole's metrics port`);
      assert.equal(endpoint.path ?? '/metrics', config.extensions.metrics?.prometheus.path, `${name}: ${monitor.kind} ${monitor.metadata.name}: the metrics path`);
      assert.ok(setsJobToPorthole(endpoint), `${name}: ${monitor.kind} ${monitor.metadata.name} labels its targets job="porthole", as the dashboards and alerts select`);
    }
  }
  return { replicas, config };
}

describe('deploy/kubernetes, as Kustomize puts it together', () => {
  it('every kustomization names paths that exist, here, and every file is used by one', () => {
    assert.ok(KUSTOMIZATION_DIRS.length >= 4, `kustomizations: ${KUSTOMIZATION_DIRS.map(shown).join(', ')}`);
    const used = new Set<string>();
    for (const dir of KUSTOMIZATION_DIRS) {
      const k = kustomization(dir);
      const where = shown(join(dir, 'kustomization.yaml'));
      used.add(join(dir, 'kustomization.yaml'));
      const isComponent = k.kind === 'Component';
      assert.equal(k.apiVersion, isComponent ? 'kustomize.config.k8s.io/v1alpha1' : 'kustomize.config.k8s.io/v1beta1', `${where}: apiVersion`);
      assert.ok(isComponent || k.kind === 'Kustomization', `${where}: kind Kustomization or Component`);
      const exists = (entry: string, what: string) => {
        assert.ok(!/^[a-z]+:\/\//.test(entry) && !entry.startsWith('github.com/'), `${where}: ${what} ${entry} is remote; everything must be in the repository`);
        const path = resolve(dir, entry);
        assert.ok(existsSync(path), `${where}: ${what} ${entry} does not exist`);
        return path;
      };
      for (const entry of k.resources ?? []) {
        const path = exists(entry, 'resource');
        if (statSync(path).isDirectory()) assert.equal(kustomization(path).kind ?? 'Kustomization', 'Kustomization', `${where}: resource ${entry} is a kustomization`);
        else used.add(path);
      }
      for (const entry of k.components ?? []) assert.equal(kustomization(exists(entry, 'component')).kind, 'Component', `${where}: component ${entry} is a Component`);
      for (const patch of k.patches ?? []) {
        assert.ok((patch.path === undefined) !== (patch.patch === undefined), `${where}: a patch has a path or an inline patch`);
        if (patch.path !== undefined) used.add(exists(patch.path, 'patch'));
      }
      for (const entry of k.patchesStrategicMerge ?? []) used.add(exists(entry, 'patch'));
      for (const generator of [...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])]) {
        for (const entry of generator.files ?? []) used.add(exists(generatorFile(entry).path, `${generator.name}'s file`));
      }
    }
    const unused = filesUnder(KUBERNETES_DIR, isYaml).filter((file) => !used.has(file) && !file.endsWith('.example.yaml'));
    assert.deepEqual(unused.map(shown), [], 'YAML files no kustomization uses (examples end in .example.yaml)');
  });

  it('every Kubernetes document has apiVersion, kind and metadata.name', () => {
    const generated = new Set(
      KUSTOMIZATION_DIRS.flatMap((dir) => {
        const k = kustomization(dir);
        return [...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])].flatMap((generator) => (generator.files ?? []).map((entry) => resolve(dir, generatorFile(entry).path)));
      }),
    );
    const files = filesUnder(KUBERNETES_DIR, isYaml).filter((file) => basename(file) !== 'kustomization.yaml' && !generated.has(file));
    assert.ok(files.length >= 10, `manifests: ${files.length}`);
    for (const file of files) {
      for (const document of kubeDocuments(file)) {
        assert.ok(typeof document.apiVersion === 'string' && document.apiVersion !== '', `${shown(file)}: apiVersion`);
        assert.ok(typeof document.kind === 'string' && /^[A-Z]/.test(document.kind), `${shown(file)}: kind`);
        assert.ok(typeof document.metadata?.name === 'string' && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(document.metadata.name), `${shown(file)}: metadata.name`);
      }
    }
  });

  it("base: one porthole on a claim, with the image's configuration, checked against the Containerfile", () => {
    const layout = build(join(KUBERNETES_DIR, 'base'));
    const { replicas, config } = checkLayout('base', layout);
    assert.equal(replicas, 1);
    assert.equal(config.storage.driver, 'filesystem');
    assert.equal(objectsOf(layout, 'PersistentVolumeClaim').length, 1);
    assert.deepEqual(yamlFile<unknown>(join(KUBERNETES_DIR, 'base', 'config.yaml')), IMAGE_CONFIG, "base/config.yaml is the image's own configuration (deploy/container/config.yaml)");
  });

  const overlays = readdirSync(join(KUBERNETES_DIR, 'overlays')).sort();
  it('has the s3-redis overlay', () => assert.ok(overlays.includes('s3-redis')));
  for (const overlay of overlays) {
    it(`overlays/${overlay}: checked the same way, and a scale-out when it has several replicas`, () => {
      const { replicas, config } = checkLayout(`overlays/${overlay}`, build(join(KUBERNETES_DIR, 'overlays', overlay)));
      if (overlay === 's3-redis') {
        assert.ok(replicas >= 2, `replicas: ${replicas}`);
        assert.equal(config.storage.driver, 's3');
        assert.ok(config.redis !== undefined);
      }
    });
  }

  const components = KUSTOMIZATION_DIRS.filter((dir) => kustomization(dir).kind === 'Component');
  it('has the monitoring components', () => {
    const names = components.map((dir) => shown(dir));
    for (const name of ['service-monitor', 'pod-monitor', 'alert-rules']) assert.ok(names.includes(join('deploy', 'kubernetes', 'monitoring', name)), `monitoring/${name} in ${names.join(', ')}`);
  });
  for (const component of components) {
    it(`${shown(component)}: added to the base and to every overlay, its objects name what exists`, () => {
      const layouts = [join(KUBERNETES_DIR, 'base'), ...overlays.map((overlay) => join(KUBERNETES_DIR, 'overlays', overlay))];
      for (const dir of layouts) {
        const layout = build(dir, [component]);
        checkLayout(`${shown(dir)} + ${shown(component)}`, layout);
        const added = build(component).objects;
        assert.ok(added.length > 0, `${shown(component)} adds objects`);
        for (const object of added) assert.ok(layout.objects.some((candidate) => candidate.kind === object.kind && candidate.metadata.name === object.metadata.name), `${object.kind} ${object.metadata.name} is added`);
      }
    });
  }

  it('the PrometheusRule holds the alert rules of observability/prometheus/alerts.yml, as they are', () => {
    const rules = components.flatMap((dir) => objectsOf(build(join(KUBERNETES_DIR, 'base'), [dir]), 'PrometheusRule'));
    assert.equal(rules.length, 1, 'one PrometheusRule');
    const alerts = yamlFile<{ groups: unknown[] }>(ALERTS_FILE);
    assert.deepEqual(
      (rules[0]?.spec as { groups: unknown[] }).groups,
      alerts.groups,
      'prometheus-rule.yaml differs from alerts.yml: generate it again with the command in deploy/kubernetes/README.md',
    );
  });
});

// ---- compose ------------------------------------------------------------------------------------

interface ComposeService {
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
interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** deploy/.env: what compose reads from the project directory. */
function dotEnv(): Record<string, string> {
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

function interpolateAll(value: unknown, variables: Record<string, string>): unknown {
  if (typeof value === 'string') return interpolate(value, variables);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, variables));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, interpolateAll(child, variables)]));
  return value;
}

/** The compose file as written (raw) and as compose sees it with deploy/.env and no other variable (services). */
function loadCompose(): ComposeFile & { raw: ComposeFile } {
  const raw = yamlFile<ComposeFile>(COMPOSE_FILE);
  return { ...(interpolateAll(raw, dotEnv()) as ComposeFile), raw };
}

function isPortholeImage(service: ComposeService): boolean {
  return service.build !== undefined || (service.image ?? '').includes('porthole');
}

function commandOfService(service: ComposeService): string[] {
  if (service.command === undefined) return IMAGE.cmd;
  return typeof service.command === 'string' ? service.command.split(/\s+/) : service.command;
}

function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) return Object.fromEntries(environment.filter((entry) => entry.includes('=')).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(environment).flatMap(([name, value]) => (value === null ? [] : [[name, String(value)]])));
}

interface Mount {
  /** Absolute path of a bind mount's source. */
  source?: string;
  volume?: string;
  target: string;
}

function mountsOf(service: ComposeService): Mount[] {
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
function mountedFiles(service: ComposeService): string[] {
  return mountsOf(service).flatMap((mount) => {
    if (mount.source === undefined || !existsSync(mount.source)) return [];
    return statSync(mount.source).isDirectory() ? filesUnder(mount.source, () => true) : [mount.source];
  });
}

function sourceMountedAt(service: ComposeService, target: string): string | undefined {
  return mountsOf(service).find((mount) => mount.target === target)?.source;
}

function publishedPorts(service: ComposeService): Array<{ host: number; container: number }> {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry !== 'string') return { host: Number(entry.published ?? entry.target), container: entry.target };
    const parts = entry.split('/')[0]?.split(':') ?? [];
    const container = Number(parts.at(-1));
    return { host: parts.length >= 2 ? Number(parts.at(-2)) : container, container };
  });
}

function dependenciesOf(service: ComposeService): Record<string, string> {
  const dependsOn = service.depends_on ?? {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(dependsOn).map(([name, value]) => [name, value.condition ?? 'service_started']));
}

function namesOf(name: string, service: ComposeService): string[] {
  const networks = service.networks;
  const aliases = networks === undefined || Array.isArray(networks) ? [] : Object.values(networks).flatMap((network) => network?.aliases ?? []);
  return [name, ...aliases];
}

function healthTest(service: ComposeService): string[] | undefined {
  if (service.healthcheck?.disable === true) return undefined;
  const test = service.healthcheck?.test;
  if (test === undefined) return isPortholeImage(service) ? ['CMD', ...IMAGE.healthcheck] : undefined;
  return typeof test === 'string' ? ['CMD-SHELL', test] : test;
}

function flagValue(args: string[], flag: string): string | undefined {
  const index = args.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (index < 0) return undefined;
  const arg = args[index] as string;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
}

/** Prometheus' targets of a job, static or by DNS name, as host and port. */
function targetsOf(job: Json): Array<{ host: string; port: number }> {
  const statics = ((job.static_configs ?? []) as Array<{ targets: string[] }>).flatMap((group) => group.targets);
  const dns = ((job.dns_sd_configs ?? []) as Array<{ names: string[]; port: number; type?: string }>).flatMap((group) => {
    assert.equal(group.type ?? 'SRV', 'A', `job ${String(job.job_name)}: DNS names are looked up as A records (compose has no SRV records)`);
    return group.names.map((name) => `${name}:${group.port}`);
  });
  return [...statics, ...dns].map((target) => ({ host: target.slice(0, target.lastIndexOf(':')), port: Number(target.slice(target.lastIndexOf(':') + 1)) }));
}

describe('deploy/compose.yaml', () => {
  const compose = loadCompose();
  const services = compose.services;
  const names = Object.keys(services);
  const portholes = names.filter((name) => isPortholeImage(services[name] as ComposeService));
  const servers = portholes.filter((name) => commandOfService(services[name] as ComposeService).slice(0, 2).join(' ') === 'porthole serve');
  const profiles = [...new Set(names.flatMap((name) => services[name]?.profiles ?? []))].sort();
  const activeIn = (profile: string) => names.filter((name) => services[name]?.profiles === undefined || services[name]?.profiles?.includes(profile));
  const profilesOf = (name: string) => services[name]?.profiles ?? profiles;

  /** porthole's configuration in a server service: the image's file and the service's variables (first asked within a test). */
  const configs = new Map<string, PortholeConfig>();
  const configOf = (name: string): PortholeConfig => {
    let config = configs.get(name);
    if (config === undefined) {
      const service = services[name] as ComposeService;
      for (const mount of mountsOf(service)) {
        assert.ok(mount.target !== IMAGE_CONFIG_PATH && mount.target !== dirname(IMAGE_CONFIG_PATH), `${name}: configured by PORTHOLE_* variables only, no file mounted at ${mount.target}`);
      }
      config = effectiveConfig(IMAGE_CONFIG, environmentOf(service), `compose service ${name}`);
      configs.set(name, config);
    }
    return config;
  };

  it("porthole servers: the image's configuration and their variables make a valid configuration", () => {
    assert.ok(servers.length >= 3, `porthole servers: ${servers.join(', ')}`);
    for (const name of servers) configOf(name);
  });

  it('every service has a pinned image; porthole runs the one built from the Containerfile', () => {
    const observability = yamlFile<ComposeFile>(join(REPO_ROOT, 'observability', 'compose.yaml'));
    for (const name of names) {
      const raw = compose.raw.services[name] as ComposeService;
      assert.ok(typeof raw.image === 'string' && raw.image !== '', `${name} has an image`);
      if (portholes.includes(name)) {
        assert.equal(raw.image, PORTHOLE_IMAGE, `${name}: porthole's image`);
        const build = raw.build;
        assert.ok(typeof build === 'object', `${name}: built from the repository`);
        assert.equal(resolve(DEPLOY_DIR, build.context ?? '.'), resolve(REPO_ROOT), `${name}: the build context is the repository`);
        assert.equal(build.dockerfile, 'Containerfile', `${name}: built from the Containerfile`);
        continue;
      }
      const pinned = /^\$\{([A-Z][A-Z0-9_]*_IMAGE):-([^}]+):([^}:]+)\}$/.exec(raw.image);
      assert.ok(pinned, `${name}: its image is \${SOMETHING_IMAGE:-name:tag}, a tag its variable overrides`);
      assert.notEqual(pinned[3], 'latest', `${name}: a pinned tag, not latest`);
      const same = observability.services[name]?.image;
      if (same !== undefined) assert.equal(raw.image, same, `${name}: the same image and variable as observability/compose.yaml`);
    }
  });

  it('porthole servers: its health check, a stop grace period longer than its drain, restarts, ports it exposes', () => {
    for (const name of servers) {
      const service = services[name] as ComposeService;
      const config = configOf(name);
      assert.deepEqual(healthTest(service)?.slice(1), ['porthole', 'health'], `${name}: health checked by porthole health`);
      assert.ok(service.stop_grace_period !== undefined, `${name}: stop_grace_period`);
      const grace = goDurationMs(service.stop_grace_period);
      assert.ok(grace > durationMs(config.http.shutdownTimeout), `${name}: stop_grace_period ${service.stop_grace_period} > http.shutdownTimeout ${config.http.shutdownTimeout}`);
      assert.ok(['always', 'unless-stopped', 'on-failure'].includes(service.restart ?? ''), `${name}: restarts`);
      assert.ok(IMAGE.expose.includes(config.http.port), `${name}: http.port ${config.http.port} is exposed by the image`);
      const metrics = metricsPort(config);
      if (metrics !== undefined) assert.ok(IMAGE.expose.includes(metrics), `${name}: its metrics port ${metrics} is exposed by the image`);
      for (const port of publishedPorts(service)) {
        assert.ok(IMAGE.expose.includes(port.container), `${name}: publishes ${port.container}, which the image exposes`);
        assert.ok(port.container === config.http.port || port.container === metrics, `${name}: publishes ${port.container}, where porthole listens`);
      }
      if (service.read_only === true) {
        const tmpfs = typeof service.tmpfs === 'string' ? [service.tmpfs] : (service.tmpfs ?? []);
        assert.ok(tmpfs.includes('/tmp') || mountsOf(service).some((mount) => mount.target === '/tmp'), `${name}: /tmp is writable on the read-only root`);
      }
      if (config.storage.driver === 'filesystem') {
        const data = mountsOf(service).find((mount) => mount.target === config.storage.filesystem.rootDirectory);
        assert.ok(data?.volume !== undefined && compose.volumes?.[data.volume] !== undefined, `${name}: the local-disk content is on a named volume at ${config.storage.filesystem.rootDirectory}`);
      }
    }
    for (const name of portholes.filter((candidate) => !servers.includes(candidate))) {
      const test = healthTest(services[name] as ComposeService);
      assert.ok(test !== undefined && test.slice(1).join(' ') !== 'porthole health', `${name} runs no porthole: it needs a health check of its own, not the image's`);
    }
  });

  it('profiles: each runs one porthole setup, depends only on what it runs, and publishes each host port once', () => {
    assert.ok(profiles.includes('replicas') && profiles.includes('single'), `profiles: ${profiles.join(', ')}`);
    assert.ok(profiles.includes(dotEnv().COMPOSE_PROFILES ?? ''), `deploy/.env picks one of the profiles: ${dotEnv().COMPOSE_PROFILES}`);
    for (const profile of profiles) {
      const active = activeIn(profile);
      const running = servers.filter((name) => active.includes(name));
      assert.ok(running.length >= 1, `${profile}: runs a porthole`);
      if (running.length > 1) {
        for (const name of running) {
          const config = configOf(name);
          assert.equal(config.storage.driver, 's3', `${profile}: ${name}, one of ${running.length} replicas, is on S3`);
          assert.ok(config.redis !== undefined && !config.storage.s3?.singleReplica, `${profile}: ${name} shares Redis`);
          assert.deepEqual(config.storage.s3, configOf(running[0] as string).storage.s3, `${profile}: ${name} has the same bucket as ${running[0]}`);
        }
        const ids = running.map((name) => configOf(name).replicaId);
        assert.equal(new Set(ids).size, ids.length, `${profile}: each replica has its own replicaId`);
      }
      if (profile === 'replicas') assert.ok(running.length >= 2 && configOf(running[0] as string).storage.driver === 's3', 'replicas: several on S3');
      if (profile === 'single') assert.ok(running.length === 1 && configOf(running[0] as string).storage.driver === 'filesystem', 'single: one on its volume');
      const hostPorts = active.flatMap((name) => publishedPorts(services[name] as ComposeService).map((port) => port.host));
      assert.equal(new Set(hostPorts).size, hostPorts.length, `${profile}: host ports published once: ${hostPorts.join(', ')}`);
      for (const name of active) {
        for (const dependency of Object.keys(dependenciesOf(services[name] as ComposeService))) {
          assert.ok(active.includes(dependency), `${profile}: ${name} depends on ${dependency}, which this profile does not run`);
        }
      }
    }
  });

  it('depends_on names defined services, with conditions they can meet', () => {
    for (const name of names) {
      for (const [dependency, condition] of Object.entries(dependenciesOf(services[name] as ComposeService))) {
        const target = services[dependency];
        assert.ok(target !== undefined, `${name} depends on ${dependency}, which is not a service`);
        assert.ok(['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition), `${name}: condition ${condition}`);
        if (condition === 'service_healthy') assert.ok(healthTest(target) !== undefined, `${name} waits for ${dependency} to be healthy, which has no health check`);
        if (condition === 'service_completed_successfully') assert.ok(['no', undefined].includes(target.restart), `${name} waits for ${dependency} to complete, which restarts`);
      }
    }
  });

  it('every file a service mounts from the repository exists, and every named volume is declared', () => {
    let count = 0;
    for (const name of names) {
      for (const mount of mountsOf(services[name] as ComposeService)) {
        if (mount.source !== undefined) {
          count += 1;
          assert.ok(mount.source.startsWith(REPO_ROOT), `${name}: ${mount.source} is in the repository`);
          assert.ok(existsSync(mount.source), `${name}: mounts ${shown(mount.source)}, which does not exist`);
        }
        if (mount.volume !== undefined) assert.ok(compose.volumes?.[mount.volume] !== undefined, `${name}: the volume ${mount.volume} is declared`);
      }
    }
    assert.ok(count >= 7, `bind mounts: ${count}`);
  });

  it("porthole's URLs name services that run beside it", () => {
    for (const name of servers) {
      const config = configOf(name);
      const urls = [config.tracing.enable ? config.tracing.endpoint : undefined, config.jobs.pushgateway?.url, config.storage.s3?.endpoint, config.redis?.url];
      for (const url of urls.filter((candidate): candidate is string => candidate !== undefined)) {
        for (const profile of profilesOf(name)) {
          const host = hostAndPort(url).host;
          assert.ok(activeIn(profile).some((other) => namesOf(other, services[other] as ComposeService).includes(host)), `${name} (${profile}): ${url} names no service of the profile`);
        }
      }
      assert.ok(config.tracing.enable, `${name}: traces to Jaeger`);
      assert.equal(hostAndPort(config.tracing.endpoint).path, '/v1/traces', `${name}: the OTLP/HTTP traces URL, /v1/traces included`);
      assert.equal(hostAndPort(config.tracing.endpoint).port, 4318, `${name}: Jaeger's OTLP/HTTP port`);
    }
  });

  it('haproxy balances over every replica of its profile, on their http.port, with the OCI 503', () => {
    const balancers = names.filter((name) => mountsOf(services[name] as ComposeService).some((mount) => mount.source !== undefined && basename(mount.source) === 'haproxy.cfg'));
    assert.equal(balancers.length, 1, 'one haproxy');
    const name = balancers[0] as string;
    const service = services[name] as ComposeService;
    const mount = mountsOf(service).find((candidate) => candidate.source !== undefined && basename(candidate.source) === 'haproxy.cfg') as Mount;
    const cfg = readFileSync(mount.source as string, 'utf8');
    for (const match of cfg.matchAll(/^\s*errorfile\s+\d+\s+(\S+)/gm)) {
      const source = sourceMountedAt(service, match[1] as string);
      assert.ok(source !== undefined, `haproxy's errorfile ${match[1]} is mounted`);
      const answer = readFileSync(source, 'utf8');
      assert.match(answer, /^HTTP\/1\.1 503 /);
      assert.match(answer, /\r\n\r\n\{"errors":\[\{"code":"UNAVAILABLE"/);
    }
    assert.match(cfg, /^\s*balance\s+roundrobin/m);
    assert.match(cfg, /^\s*option\s+httpchk\s+GET\s+\/(readyz|livez)\b/m);
    assert.match(cfg, /^\s*retry-on\s+.*conn-failure/m);
    const backends = [...cfg.matchAll(/^\s*server\s+\S+\s+([^:\s]+):(\d+)/gm)].map((match) => ({ host: match[1] as string, port: Number(match[2]) }));
    for (const profile of profilesOf(name)) {
      const replicas = servers.filter((server) => activeIn(profile).includes(server));
      assert.deepEqual(backends.map((backend) => backend.host).sort(), [...replicas].sort(), `${name} (${profile}): its servers are the profile's replicas`);
    }
    for (const backend of backends) assert.equal(backend.port, configOf(backend.host).http.port, `${name}: ${backend.host} on its http.port`);
    const bind = /^\s*bind\s+\S*:(\d+)/m.exec(cfg);
    assert.ok(bind !== null && publishedPorts(service).some((port) => port.container === Number(bind[1])), `${name} publishes the port it binds`);
  });

  it('Prometheus: the four jobs, every porthole scraped directly or through porthole-exporter, alerts.yml loaded', () => {
    const prometheus = names.find((name) => sourceMountedAt(services[name] as ComposeService, '/etc/prometheus/prometheus.yml') !== undefined);
    assert.ok(prometheus !== undefined, 'a service mounts a prometheus.yml');
    const service = services[prometheus] as ComposeService;
    const file = sourceMountedAt(service, '/etc/prometheus/prometheus.yml') as string;
    assert.notEqual(file, join(REPO_ROOT, 'observability', 'prometheus', 'prometheus.yml'), "compose's own prometheus.yml, with its service names");
    const config = yamlFile<{ rule_files?: string[]; scrape_configs: Json[] }>(file);
    const jobs = new Map(config.scrape_configs.map((job) => [job.job_name as string, job]));
    for (const job of JOBS) assert.ok(jobs.has(job), `${shown(file)}: job ${job}`);
    assert.equal(jobs.get('pushgateway')?.honor_labels, true, 'the pushgateway job honours the pushed labels');
    for (const rules of config.rule_files ?? []) {
      assert.equal(sourceMountedAt(service, join('/etc/prometheus', rules)), ALERTS_FILE, `${rules} is observability/prometheus/alerts.yml, mounted`);
    }
    assert.ok((config.rule_files ?? []).length > 0, 'rule_files');
    const targets = (job: string) => targetsOf(jobs.get(job) as Json);
    for (const job of JOBS) {
      for (const target of targets(job)) assert.ok(names.includes(target.host), `job ${job}: ${target.host} is a service`);
    }

    // Full mode: Prometheus scrapes porthole's metrics port. Minimal mode: an exporter reads it.
    const configExporters = portholes.filter((name) => commandOfService(services[name] as ComposeService).slice(0, 2).join(' ') === 'porthole-exporter config');
    for (const name of servers) {
      const port = metricsPort(configOf(name));
      if (port !== undefined) {
        assert.ok(targets('porthole').some((target) => target.host === name && target.port === port), `job porthole scrapes ${name}:${port}`);
        continue;
      }
      const readers = configExporters.filter((exporter) => {
        const file = sourceMountedAt(services[exporter] as ComposeService, commandOfService(services[exporter] as ComposeService)[2] as string);
        return file !== undefined && exporterConfigSchema.parse(JSON.parse(readFileSync(file, 'utf8'))).Server.host === name;
      });
      assert.equal(readers.length, 1, `${name} runs in minimal mode: one porthole-exporter config reads it`);
    }
    for (const target of targets('porthole')) assert.ok(servers.includes(target.host) && metricsPort(configOf(target.host)) === target.port, `job porthole: ${target.host}:${target.port} is a porthole's metrics port`);
    for (const exporter of configExporters) {
      const service = services[exporter] as ComposeService;
      const file = sourceMountedAt(service, commandOfService(service)[2] as string);
      assert.ok(file !== undefined, `${exporter}: its configuration file is mounted`);
      const settings = exporterConfigSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      const server = settings.Server.host;
      assert.ok(servers.includes(server), `${exporter} reads ${server}, a porthole`);
      const serverConfig = configOf(server);
      assert.equal(metricsPort(serverConfig), undefined, `${exporter} reads ${server}, which runs in minimal mode`);
      assert.equal(settings.Server.port, serverConfig.http.port, `${exporter}: ${server}'s http.port`);
      assert.equal(settings.Server.path, serverConfig.extensions.metrics?.prometheus.path ?? '/metrics', `${exporter}: ${server}'s metrics path`);
      assert.deepEqual(services[exporter]?.profiles, services[server]?.profiles, `${exporter} runs where ${server} runs`);
      assert.ok(targets('porthole-exporter').some((target) => target.host === exporter && target.port === settings.Exporter.port), `job porthole-exporter scrapes ${exporter}:${settings.Exporter.port}`);
    }
    const apiExporters = portholes.filter((name) => commandOfService(services[name] as ComposeService).slice(0, 2).join(' ') === 'porthole-exporter api');
    assert.equal(apiExporters.length, 1, 'one porthole-exporter api');
    for (const exporter of apiExporters) {
      const args = commandOfService(services[exporter] as ComposeService);
      const port = Number(flagValue(args, '--port') ?? 9580);
      assert.ok(targets('oci-registry-exporter').some((target) => target.host === exporter && target.port === port), `job oci-registry-exporter scrapes ${exporter}:${port}`);
      const registry = hostAndPort(flagValue(args, '--connection-string') ?? '');
      assert.equal(flagValue(args, '--enable-tls'), 'false', `${exporter}: plain http needs --enable-tls=false`);
      for (const profile of profilesOf(exporter)) {
        const answering = activeIn(profile).filter((name) => namesOf(name, services[name] as ComposeService).includes(registry.host));
        assert.equal(answering.length, 1, `${exporter} (${profile}): one service answers as ${registry.host}`);
        const front = answering[0] as string;
        const port = servers.includes(front) ? configOf(front).http.port : publishedPorts(services[front] as ComposeService)[0]?.container;
        assert.equal(registry.port, port, `${exporter} (${profile}): ${front} listens on ${registry.port}`);
      }
    }
    const gateways = targets('pushgateway').map((target) => target.host);
    for (const name of servers) assert.ok(gateways.includes(hostAndPort(configOf(name).jobs.pushgateway?.url ?? 'http://none').host), `${name} pushes to the gateway Prometheus scrapes`);
  });

  it("Grafana: observability/'s provisioning and dashboards, and every variable they read set for the project", () => {
    const grafana = names.find((name) => mountsOf(services[name] as ComposeService).some((mount) => mount.target === '/etc/grafana/provisioning/datasources'));
    assert.ok(grafana !== undefined, 'a service mounts Grafana provisioning');
    const service = services[grafana] as ComposeService;
    const observability = join(REPO_ROOT, 'observability', 'grafana');
    assert.equal(sourceMountedAt(service, '/etc/grafana/provisioning/datasources'), join(observability, 'provisioning', 'datasources'));
    assert.equal(sourceMountedAt(service, '/etc/grafana/provisioning/dashboards'), join(observability, 'provisioning', 'dashboards'));
    const providers = filesUnder(join(observability, 'provisioning', 'dashboards'), isYaml).flatMap((file) => yamlFile<{ providers: Array<{ options: { path: string } }> }>(file).providers);
    for (const provider of providers) assert.equal(sourceMountedAt(service, provider.options.path), join(observability, 'dashboards'), `the dashboards are mounted where the provider reads them (${provider.options.path})`);
    const environment = environmentOf(service);
    const used = new Set(mountedFiles(service).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((match) => match[1] as string)));
    assert.ok(used.size >= 2, `variables the provisioning reads: ${[...used].join(', ')}`);
    for (const variable of used) {
      const value = environment[variable];
      assert.ok(value !== undefined, `${grafana}: ${variable} is set`);
      if (/^https?:\/\//.test(value)) assert.ok(names.includes(hostAndPort(value).host), `${grafana}: ${variable} ${value} names a service of the project`);
    }
  });
});
