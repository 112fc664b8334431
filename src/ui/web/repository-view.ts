import { MANIFEST_ACCEPT, MEDIA_TYPES, nextLast, request, v2 } from './api.js';
import { append, copyable, fill, h, notice, table } from './dom.js';
import { shortDigest, shortMediaType } from './format.js';
import { manifestHref } from './routes.js';

const PAGE_SIZE = 100;
/** HEAD requests at once for the tags of a page (each gives a tag's digest and type, and is not a pull). */
const CONCURRENCY = 6;

/** cosign's tag scheme for what it attaches to a digest: sha256-<hex>.sig (signature), .att, .sbom. */
export const COSIGN_TAG = /^(sha256|sha512)-([0-9a-f]+)\.(sig|att|sbom)$/;

async function mapLimited<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function kindOf(mediaType: string): string {
  if (mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList) return 'multi-platform index';
  if (mediaType === MEDIA_TYPES.ociManifest || mediaType === MEDIA_TYPES.dockerManifest) return 'image';
  return shortMediaType(mediaType);
}

/** A repository's tags (GET /v2/<name>/tags/list, paged), each with what it points at. */
export function renderRepository(main: HTMLElement, name: string, params: URLSearchParams): () => void {
  const host = location.host;
  const results = h('div', { 'aria-live': 'polite' }, 'Loading tags…');
  append(
    main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/repositories' }, 'Repositories'), ' / ', h('span', { 'aria-current': 'page' }, name)),
    h('h1', { tabindex: -1 }, name),
    results,
  );
  let stopped = false;
  const after = params.get('last') ?? '';
  const load = async (): Promise<void> => {
    const query = new URLSearchParams({ n: String(PAGE_SIZE) });
    if (after !== '') query.set('last', after);
    const response = await request(v2(name, `tags/list?${query.toString()}`));
    const body = (await response.json()) as { tags?: string[] | null };
    const tags = body.tags ?? [];
    const more = nextLast(response);
    const heads = await mapLimited(tags, CONCURRENCY, async (tag) => {
      try {
        const head = await request(v2(name, `manifests/${encodeURIComponent(tag)}`), { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
        return { digest: head.headers.get('docker-content-digest') ?? '', type: head.headers.get('content-type') ?? '' };
      } catch {
        return { digest: '', type: '' };
      }
    });
    if (stopped) return;
    const ordinary = tags.map((tag, index) => ({ tag, ...(heads[index] as { digest: string; type: string }) })).filter(({ tag }) => !COSIGN_TAG.test(tag));
    const attached = tags.filter((tag) => COSIGN_TAG.test(tag));
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of tags' });
    if (after !== '') append(pager, h('a', { href: `#/repository/${encodeURIComponent(name)}` }, 'First page'));
    if (more !== undefined) append(pager, h('a', { href: `#/repository/${encodeURIComponent(name)}?last=${encodeURIComponent(more)}` }, 'Next page'));
    const first = ordinary[0];
    fill(
      results,
      tags.length === 0
        ? notice('info', 'No tags: its manifests are only reachable by digest.')
        : table(
            `Tags of ${name}`,
            ['Tag', 'Kind', 'Digest'],
            ordinary.map(({ tag, digest, type }) => [h('a', { href: manifestHref(name, tag) }, tag), type === '' ? '–' : kindOf(type), digest === '' ? '–' : h('code', { title: digest }, shortDigest(digest))]),
          ),
      attached.length === 0 ? null : h('p', { class: 'help' }, `Also ${attached.length} cosign tag(s) (signatures, attestations, SBOMs), shown with the manifests they belong to.`),
      pager,
      first === undefined ? null : h('section', { 'aria-labelledby': 'pull-heading' }, h('h2', { id: 'pull-heading' }, 'Pull'), copyable(`podman pull of ${first.tag}`, `podman pull ${host}/${name}:${first.tag}`)),
    );
  };
  load().catch((err: unknown) => {
    if (!stopped) fill(results, notice('error', `Could not list the tags of ${name}: ${(err as Error).message}`));
  });
  return () => {
    stopped = true;
  };
}
