import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { filesUnder, isObject, shown, yamlDocuments, yamlFile, type Json } from './deploy-files.js';
import type { KubeObject } from './kubernetes-objects.js';

/**
 * Kustomize's reading of a kustomization, redone here because no kustomize (nor kubectl) runs in
 * the tests: resources, ConfigMap and Secret generators, components and strategic merge patches,
 * so that the objects checked are the ones `kubectl apply -k` would send, overlays included. Only
 * what deploy/kubernetes uses is understood.
 */

interface Generator {
  name: string;
  files?: string[];
  literals?: string[];
}
export interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
export interface Kustomization {
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

/** The directories of every kustomization.yaml below `root`. */
export function kustomizationDirs(root: string): string[] {
  return filesUnder(root, (path) => basename(path) === 'kustomization.yaml').map(dirname);
}

export function kustomization(dir: string): Kustomization {
  return yamlFile<Kustomization>(join(dir, 'kustomization.yaml'));
}

/** A generator's `files` entry: `path` or `key=path`. */
export function generatorFile(entry: string): { key: string; path: string } {
  const [key, path] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [basename(entry), entry];
  return { key, path };
}

/** The Kubernetes objects of a manifest file, one a document. */
export function kubeDocuments(path: string): KubeObject[] {
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

/** `patch` applied to `base` as a strategic merge patch: maps merged key by key, a null deleting, lists by MERGE_KEYS, `$patch: replace` and `delete` obeyed. */
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
export interface Layout {
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

/** What a kustomization directory makes, with `components` added as if it listed them: how each component is tried on each layout. */
export function build(dir: string, components: string[] = []): Layout {
  const layout: Layout = { objects: [], images: [], dirs: [] };
  accumulate(dir, layout, components);
  return layout;
}

export function objectsOf(layout: Layout, kind: string): KubeObject[] {
  return layout.objects.filter((object) => object.kind === kind);
}
