import { fetchManifest, getJson, isIndex, v2, type Descriptor, type FetchedManifest, type Manifest } from './api.js';
import { append, copyable, facts, fill, h, notice, table } from './dom.js';
import { bytes, shortDigest, shortMediaType, when } from './format.js';
import { COSIGN_TAG } from './repository-view.js';
import { manifestHref, repositoryHref } from './routes.js';

/** Artifact types that are signatures (cosign, Notation, Sigstore bundles). */
const SIGNATURE_TYPES = new Set(['application/vnd.dev.cosign.artifact.sig.v1+json', 'application/vnd.cncf.notary.signature', 'application/vnd.dev.sigstore.bundle.v0.3+json']);
/** Configs larger than this are not fetched to show (an image config is a few KB). */
const MAX_CONFIG_BYTES = 1024 * 1024;

interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  author?: string;
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string; User?: string; Env?: string[] | null; Labels?: Record<string, string> | null; ExposedPorts?: Record<string, unknown> | null };
  history?: unknown[];
}

function isDigest(reference: string): boolean {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(reference);
}

function platformOf(descriptor: Descriptor): string {
  const platform = descriptor.platform;
  if (platform === undefined) return descriptor.annotations?.['vnd.docker.reference.type'] ?? 'unknown';
  return [platform.os, platform.architecture, platform.variant].filter((part) => part !== undefined && part !== '').join('/') + (platform['os.version'] ? ` (${platform['os.version']})` : '');
}

function annotationsTable(caption: string, annotations: Record<string, string> | undefined | null): HTMLElement | null {
  const entries = Object.entries(annotations ?? {});
  return entries.length === 0 ? null : table(caption, ['Key', 'Value'], entries.map(([key, value]) => [h('code', {}, key), value]));
}

function section(id: string, title: string, ...children: Array<Node | null>): HTMLElement {
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

function pullCommands(name: string, reference: string, digest: string): HTMLElement {
  const host = location.host;
  const box = h('div', { class: 'pulls' });
  if (!isDigest(reference)) append(box, copyable('podman pull by tag', `podman pull ${host}/${name}:${reference}`));
  if (digest !== '') append(box, copyable('docker pull by digest', `docker pull ${host}/${name}@${digest}`));
  return section('pull-heading', 'Pull', box);
}

function indexSections(name: string, fetched: FetchedManifest): HTMLElement[] {
  const manifests = fetched.manifest.manifests ?? [];
  return [
    section(
      'platforms-heading',
      `Platforms (${manifests.length})`,
      table(
        'Platforms of this index',
        ['Platform', 'Kind', 'Size', 'Digest'],
        manifests.map((entry) => [h('a', { href: manifestHref(name, entry.digest) }, platformOf(entry)), shortMediaType(entry.artifactType ?? entry.mediaType), bytes(entry.size), h('code', { title: entry.digest }, shortDigest(entry.digest))]),
        { numeric: [2] },
      ),
    ),
  ];
}

async function configFacts(name: string, descriptor: Descriptor): Promise<HTMLElement> {
  if (descriptor.size > MAX_CONFIG_BYTES || !/json/.test(descriptor.mediaType ?? '')) return h('p', {}, `Config ${shortMediaType(descriptor.mediaType)}, ${bytes(descriptor.size)}, not shown.`);
  const config = await getJson<ImageConfig>(v2(name, `blobs/${encodeURIComponent(descriptor.digest)}`));
  const run = config.config ?? {};
  const list = (values: string[] | null | undefined): string | undefined => (values === null || values === undefined || values.length === 0 ? undefined : values.join(' '));
  const box = h('div', {});
  append(
    box,
    facts([
      ['Platform', [config.os, config.architecture, config.variant].filter((part) => part !== undefined && part !== '').join('/')],
      ['Created', config.created === undefined ? undefined : when(config.created)],
      ['Author', config.author],
      ['Entrypoint', list(run.Entrypoint)],
      ['Command', list(run.Cmd)],
      ['Working directory', run.WorkingDir],
      ['User', run.User],
      ['Exposed ports', run.ExposedPorts ? Object.keys(run.ExposedPorts).join(', ') : undefined],
      ['Environment', run.Env && run.Env.length > 0 ? `${run.Env.length} variable(s)` : undefined],
      ['History', config.history ? `${config.history.length} step(s)` : undefined],
      ['Config', h('code', { title: descriptor.digest }, `${shortDigest(descriptor.digest)} (${bytes(descriptor.size)})`)],
    ]),
    annotationsTable('Labels', run.Labels),
  );
  return box;
}

function imageSections(name: string, manifest: Manifest, configBox: HTMLElement): HTMLElement[] {
  const layers = manifest.layers ?? [];
  const total = layers.reduce((sum, layer) => sum + layer.size, 0);
  return [
    section('config-heading', 'Config', configBox),
    section(
      'layers-heading',
      `Layers (${layers.length}, ${bytes(total)})`,
      table(
        'Layers, base first',
        ['#', 'Media type', 'Size', 'Digest'],
        layers.map((layer, index) => [String(index + 1), shortMediaType(layer.mediaType), bytes(layer.size), h('code', { title: layer.digest }, shortDigest(layer.digest))]),
        { numeric: [0, 2] },
      ),
    ),
    ...(manifest.subject ? [section('subject-heading', 'Refers to', h('p', {}, h('a', { href: manifestHref(name, manifest.subject.digest) }, shortDigest(manifest.subject.digest))))] : []),
  ];
}

/** What refers to this manifest (the referrers API), signatures first, and cosign's tag-scheme attachments. */
async function referrers(name: string, digest: string): Promise<HTMLElement> {
  const [found, tags] = await Promise.all([
    getJson<Manifest>(v2(name, `referrers/${encodeURIComponent(digest)}`)).then((index) => index.manifests ?? []),
    getJson<{ tags?: string[] | null }>(v2(name, 'tags/list?n=1000')).then((body) => body.tags ?? []),
  ]);
  const [algorithm, hex] = digest.split(':');
  const attached = tags.filter((tag) => {
    const match = COSIGN_TAG.exec(tag);
    return match !== null && match[1] === algorithm && match[2] === hex;
  });
  const signatures = found.filter((entry) => SIGNATURE_TYPES.has(entry.artifactType ?? ''));
  const others = found.filter((entry) => !SIGNATURE_TYPES.has(entry.artifactType ?? ''));
  const rows = [...signatures, ...others].map((entry) => [
    SIGNATURE_TYPES.has(entry.artifactType ?? '') ? 'signature' : 'artifact',
    h('a', { href: manifestHref(name, entry.digest) }, shortMediaType(entry.artifactType ?? entry.mediaType)),
    bytes(entry.size),
    when(entry.annotations?.['org.opencontainers.image.created']),
  ]);
  for (const tag of attached) {
    const kind = tag.endsWith('.sig') ? 'signature' : tag.endsWith('.att') ? 'attestation' : 'SBOM';
    rows.push([`${kind} (cosign tag)`, h('a', { href: manifestHref(name, tag) }, tag), '–', '–']);
  }
  if (rows.length === 0) return h('p', {}, 'No signature, SBOM or other artifact refers to this manifest.');
  return h('div', {}, h('p', {}, `${signatures.length + attached.filter((tag) => tag.endsWith('.sig')).length} signature(s).`), table('Referrers', ['Kind', 'Artifact', 'Size', 'Created'], rows, { numeric: [2] }));
}

/** One manifest by tag or digest: an index's platforms, or an image's config and layers; referrers and pull commands for either. */
export function renderManifest(main: HTMLElement, name: string, reference: string): () => void {
  let stopped = false;
  const body = h('div', { 'aria-live': 'polite' }, 'Loading manifest…');
  append(
    main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/repositories' }, 'Repositories'), ' / ', h('a', { href: repositoryHref(name) }, name), ' / ', h('span', { 'aria-current': 'page' }, isDigest(reference) ? shortDigest(reference) : reference)),
    h('h1', { tabindex: -1 }, `${name}${isDigest(reference) ? '@' : ':'}${isDigest(reference) ? shortDigest(reference) : reference}`),
    body,
  );
  const load = async (): Promise<void> => {
    const fetched = await fetchManifest(name, reference);
    if (stopped) return;
    const index = isIndex(fetched);
    const configBox = h('div', {}, 'Loading config…');
    const referrersBox = h('div', {}, 'Loading referrers…');
    fill(
      body,
      facts([
        ['Kind', index ? 'multi-platform index' : fetched.manifest.artifactType ? `artifact (${shortMediaType(fetched.manifest.artifactType)})` : 'image'],
        ['Media type', h('code', {}, fetched.mediaType)],
        ['Digest', h('code', { class: 'digest' }, fetched.digest)],
        ['Manifest size', bytes(fetched.size)],
      ]),
      pullCommands(name, reference, fetched.digest),
      ...(index ? indexSections(name, fetched) : imageSections(name, fetched.manifest, configBox)),
      annotationsTable('Annotations', fetched.manifest.annotations),
      section('referrers-heading', 'Referrers and signatures', referrersBox),
    );
    const settle = (box: HTMLElement, work: Promise<HTMLElement>, what: string): void => {
      work.then(
        (content) => stopped || fill(box, content),
        (err: unknown) => stopped || fill(box, notice('error', `Could not read the ${what}: ${(err as Error).message}`)),
      );
    };
    if (!index && fetched.manifest.config) settle(configBox, configFacts(name, fetched.manifest.config), 'config');
    else if (!index) fill(configBox, h('p', {}, 'No config.'));
    if (fetched.digest !== '') settle(referrersBox, referrers(name, fetched.digest), 'referrers');
  };
  load().catch((err: unknown) => {
    if (!stopped) fill(body, notice('error', `Could not read ${name} ${reference}: ${(err as Error).message}`));
  });
  return () => {
    stopped = true;
  };
}
