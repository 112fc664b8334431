import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ALERTS_FILE, filesUnder, isYaml, KUBERNETES_DIR, shown, yamlFile } from './deploy-files.js';
import { IMAGE_CONFIG } from './image-facts.js';
import { checkLayout } from './kubernetes-checks.js';
import { build, generatorFile, kubeDocuments, kustomization, kustomizationDirs, objectsOf } from './kustomize.js';

/**
 * deploy/kubernetes: every kustomization's paths, every manifest's identity, and each layout (the
 * base, each overlay, each with each component) put together as Kustomize would and then checked
 * by ./kubernetes-checks.ts (see image.test.ts for the whole).
 */

/** The directories of every kustomization.yaml under deploy/kubernetes. */
const KUSTOMIZATION_DIRS = kustomizationDirs(KUBERNETES_DIR);

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
