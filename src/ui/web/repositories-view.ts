import { request } from './api.js';
import { append, fill, h, notice, table } from './dom.js';
import { bytes, count, when } from './format.js';
import type { RepositoryRecord } from './management-types.js';
import { nextLast } from './api.js';
import { repositoryHref } from './routes.js';

const PAGE_SIZE = 50;

/**
 * The repositories, a page at a time (GET /api/v1/repositories?n=&last=), searched by the
 * management API's `q` (part of the name, any case): only the names are filtered on the server,
 * so a search costs what a page costs, however many repositories there are.
 */
export function renderRepositories(main: HTMLElement, params: URLSearchParams): () => void {
  const query = params.get('q') ?? '';
  const last = params.get('last') ?? '';
  const results = h('div', { 'aria-live': 'polite' }, 'Loading…');
  const search = h('input', { id: 'repository-search', type: 'search', name: 'q', value: query, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'search-help' });
  let debounce: number | undefined;
  const apply = (): void => {
    const next = new URLSearchParams();
    if (search.value.trim() !== '') next.set('q', search.value.trim());
    const encoded = next.toString();
    const hash = `#/repositories${encoded === '' ? '' : `?${encoded}`}`;
    // Typing replaces the entry (Back leaves the search), and keeps the focus in the field.
    history.replaceState(null, '', hash);
    void load(search.value.trim(), '');
  };
  search.addEventListener('input', () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(apply, 250);
  });
  const form = h(
    'form',
    { role: 'search', class: 'search', onsubmit: (event: Event) => { event.preventDefault(); window.clearTimeout(debounce); apply(); } },
    h('label', { for: 'repository-search' }, 'Search repositories'),
    search,
    h('button', { type: 'submit' }, 'Search'),
    h('p', { id: 'search-help', class: 'help' }, 'Part of a name, in any case.'),
  );
  append(main, h('h1', { tabindex: -1 }, 'Repositories'), form, results);

  let current = 0;
  const load = async (q: string, after: string): Promise<void> => {
    const ticket = ++current;
    const url = new URLSearchParams({ n: String(PAGE_SIZE) });
    if (after !== '') url.set('last', after);
    if (q !== '') url.set('q', q);
    try {
      const response = await request(`../api/v1/repositories?${url.toString()}`);
      const { repositories } = (await response.json()) as { repositories: RepositoryRecord[] };
      if (ticket !== current) return;
      const more = nextLast(response);
      const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of repositories' });
      if (after !== '') append(pager, h('a', { href: `#/repositories${q === '' ? '' : `?q=${encodeURIComponent(q)}`}` }, 'First page'));
      if (more !== undefined) append(pager, h('a', { href: `#/repositories?${new URLSearchParams({ ...(q === '' ? {} : { q }), last: more }).toString()}` }, 'Next page'));
      fill(
        results,
        repositories.length === 0
          ? notice('info', q === '' ? 'No repositories yet: push an image to porthole and it shows here.' : `No repository name contains “${q}”.`)
          : table(
              q === '' ? 'Repositories' : `Repositories whose name contains “${q}”`,
              ['Name', 'Tags', 'Size', 'Last push', 'Last pull'],
              repositories.map((repo) => [h('a', { href: repositoryHref(repo.name) }, repo.name), count(repo.tags), bytes(repo.sizeBytes), when(repo.lastPush), when(repo.lastPull)]),
              { numeric: [1, 2] },
            ),
        pager,
      );
    } catch (err) {
      if (ticket === current) fill(results, notice('error', `Could not list repositories: ${(err as Error).message}`));
    }
  };
  void load(query, last);
  return () => {
    current += 1;
    window.clearTimeout(debounce);
  };
}
