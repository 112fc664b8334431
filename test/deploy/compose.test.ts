import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { durationMs } from '../../src/config/durations.js';
import { exporterConfigSchema } from '../../src/exporter/config.js';
import { dependenciesOf, dotEnv, environmentOf, goDurationMs, mountedFiles, mountsOf, namesOf, publishedPorts, sourceMountedAt, type ComposeFile, type ComposeService, type Mount } from './compose.js';
import { commandOfService, composeProject, healthTest } from './compose-project.js';
import { ALERTS_FILE, DEPLOY_DIR, filesUnder, isYaml, REPO_ROOT, shown, yamlFile, type Json } from './deploy-files.js';
import { IMAGE } from './image-facts.js';
import { metricsPort } from './porthole-configuration.js';
import { flagValue, hostAndPort, targetsOf } from './service-addresses.js';

/**
 * deploy/compose.yaml: its porthole servers, images, health checks, profiles, dependencies and
 * mounts, and the haproxy, Prometheus and Grafana around them, each held to what porthole and
 * observability/ say (see image.test.ts for the whole).
 */

/** What the compose file calls porthole's image, built from the repository. */
const PORTHOLE_IMAGE = '${PORTHOLE_IMAGE:-localhost/porthole:latest}';
/** The jobs the dashboards and alerts select (observability/prometheus/prometheus.yml). */
const JOBS = ['porthole', 'porthole-exporter', 'oci-registry-exporter', 'pushgateway'];

describe('deploy/compose.yaml', () => {
  const { compose, services, names, portholes, servers, profiles, activeIn, profilesOf, configOf } = composeProject();

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
      assert.ok(IMAGE.exposedPorts.includes(config.http.port), `${name}: http.port ${config.http.port} is exposed by the image`);
      const metrics = metricsPort(config);
      if (metrics !== undefined) assert.ok(IMAGE.exposedPorts.includes(metrics), `${name}: its metrics port ${metrics} is exposed by the image`);
      for (const port of publishedPorts(service)) {
        assert.ok(IMAGE.exposedPorts.includes(port.container), `${name}: publishes ${port.container}, which the image exposes`);
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
