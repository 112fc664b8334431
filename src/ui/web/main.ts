import { fill, h } from './dom.js';
import { renderManifest } from './manifest-view.js';
import { renderOverview } from './overview-view.js';
import { renderRepositories } from './repositories-view.js';
import { renderRepository } from './repository-view.js';

/**
 * porthole's dashboard: one page, its places in the URL's fragment (#/, #/repositories,
 * #/repository/<name>, #/manifest/<name>/<reference>), so that Back, bookmarks and links work
 * and the server serves one file.
 */

const main = document.getElementById('main') as HTMLElement;
let leave: () => void = () => undefined;

function route(hash: string): { view: string; parts: string[]; params: URLSearchParams } {
  const path = hash.replace(/^#\/?/, '');
  const question = path.indexOf('?');
  const [where, query] = question < 0 ? [path, ''] : [path.slice(0, question), path.slice(question + 1)];
  const [view = '', ...parts] = where.split('/').map((part) => decodeURIComponent(part));
  return { view, parts, params: new URLSearchParams(query) };
}

function markCurrent(view: string): void {
  for (const link of document.querySelectorAll<HTMLAnchorElement>('header nav a')) {
    const section = link.dataset.section;
    const current = section === 'overview' ? view === '' : view === 'repositories' || view === 'repository' || view === 'manifest';
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function show(focus: boolean): void {
  leave();
  fill(main);
  const { view, parts, params } = route(location.hash);
  markCurrent(view);
  const [first = '', second = ''] = parts;
  if (view === '') leave = renderOverview(main);
  else if (view === 'repositories') leave = renderRepositories(main, params);
  else if (view === 'repository' && first !== '') leave = renderRepository(main, first, params);
  else if (view === 'manifest' && first !== '' && second !== '') leave = renderManifest(main, first, second);
  else {
    fill(main, h('h1', { tabindex: -1 }, 'Not found'), h('p', {}, 'Nothing here. ', h('a', { href: '#/' }, 'Back to the overview')));
    leave = () => undefined;
  }
  const heading = main.querySelector('h1');
  document.title = `${heading?.textContent ?? 'porthole'} · porthole`;
  // After following a link, the new page's heading takes the focus (a screen reader reads it;
  // Tab goes on from there), as the browser does on a full page load.
  if (focus) heading?.focus();
}

window.addEventListener('hashchange', () => show(true));
show(false);

// The skip link moves the focus without touching the fragment, which names the place shown.
document.querySelector('a.skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
