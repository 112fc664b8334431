import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';
import { durationMs } from '../../src/config/durations.js';
import type { PortholeConfig } from '../../src/config/schema.js';
import { IMAGE, IMAGE_CONFIG, IMAGE_CONFIG_PATH } from './image-facts.js';
import { matches, specOf, type Container, type DeploymentSpec, type EnvVar, type KubeObject, type MonitorEndpoint, type MonitorSpec, type PodSpec, type ServiceSpec } from './kubernetes-objects.js';
import { kubeDocuments, objectsOf, type Layout } from './kustomize.js';
import { effectiveConfig, isPortholeVariable, metricsPort } from './porthole-configuration.js';

/**
 * What must hold of a Kubernetes layout that runs porthole, put together by ./kustomize.ts: that
 * the Deployment runs the image as the Containerfile makes it (ports, user, volume, command), that
 * the configuration its file and variables make is valid and agrees with the probes, Service and
 * monitors, and that it stops, stores and scales as porthole needs.
 */

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

/** What the container runs; nothing here means the image's CMD. */
function commandOf(container: Container): string[] {
  return [...(container.command ?? []), ...(container.args ?? [])];
}

/** How long a `sleep N` preStop hook holds the pod before porthole is sent SIGTERM. */
function preStopSeconds(container: Container): number {
  const command = container.lifecycle?.preStop?.exec?.command ?? [];
  return command[0] === 'sleep' ? Number(command[1]) : 0;
}

/** The dashboards and alerts select job="porthole"; without this relabeling the job would be named after the Service or the monitor. */
function setsJobToPorthole(endpoint: MonitorEndpoint): boolean {
  return (endpoint.relabelings ?? []).some((rule) => (rule.action ?? 'replace') === 'replace' && rule.targetLabel === 'job' && rule.replacement === 'porthole' && rule.sourceLabels === undefined);
}

/** Everything that must hold of a layout that runs porthole; returns what its checks found. */
export function checkLayout(name: string, layout: Layout): { replicas: number; config: PortholeConfig } {
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
  assert.deepEqual(ports.map((port) => port.containerPort).sort(), [...IMAGE.exposedPorts].sort(), `${at}: its ports are the image's EXPOSE`);
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
  if (serviceVariables) assert.equal(pod.enableServiceLinks, false, `${where}: enableServiceLinks false, so that the pods' PORTHOLE_ variables are only those set on purpose`);

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
