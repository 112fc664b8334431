import { raw } from '../../test/helpers/raw-http.js';
import { loadListings, TAGS_REPO, type ListingLoadTimes } from './api-loading.js';
import type { Contender, Contenders } from './contenders.js';
import { figureOf, type Figure } from './figure.js';
import { loadFigure, wrkLoad, type LoadSpec } from './load-figure.js';
import type { BenchSettings } from './settings.js';

/**
 * distribution 2.8.2 refuses catalog pages over 1000 entries (catalog.maxentries, the fix of
 * CVE-2023-2253), so the catalog figure asks for a full page of that size: the first 1000 of the
 * 10,000 repositories. The tags figure lists all 1,000 tags of one repository (no n: one page).
 */
const CATALOG_PAGE = 1000;
const CATALOG_PATH = `/v2/_catalog?n=${CATALOG_PAGE}`;
const TAGS_PATH = `/v2/${TAGS_REPO}/tags/list`;

async function listing(contender: Contender, path: string, key: 'repositories' | 'tags'): Promise<string[]> {
  const body = (await raw(contender.url, { path })).json() as Record<string, unknown> | undefined;
  const items = body?.[key];
  if (!Array.isArray(items)) throw new Error(`${contender.name} GET ${path}: no ${key} in ${JSON.stringify(body).slice(0, 300)}`);
  return items as string[];
}

/**
 * Both registries must give the same listing, with at least `minimum` items, before their speeds
 * are compared. Compared as sets: distribution 2.8 lists tags in directory order, not sorted.
 */
async function expectSameListing(contenders: Contenders, path: string, key: 'repositories' | 'tags', minimum: number): Promise<void> {
  const porthole = (await listing(contenders.porthole, path, key)).sort();
  const distribution = (await listing(contenders.distribution, path, key)).sort();
  if (porthole.length < minimum || porthole.join('\n') !== distribution.join('\n')) {
    throw new Error(`GET ${path}: porthole lists ${porthole.length} ${key}, distribution ${distribution.length}, not the same ${minimum} or more`);
  }
}

function listingSpec(name: string, path: string): LoadSpec {
  return { name, unit: 'req/s', digits: 0, target: { kind: 'ratio-at-least', bound: 2.0 }, run: (contender, seconds) => wrkLoad(contender, path, { seconds }, 'req/s') };
}

/** Loads both registries through the API (timed, reported), then measures the catalog and the tags list. */
export async function listingFigures(contenders: Contenders, settings: BenchSettings): Promise<Figure[]> {
  const counts = { repositories: settings.repositories, tags: settings.tags, concurrency: settings.loadConcurrency };
  const times: Record<'porthole' | 'distribution', ListingLoadTimes> = {
    porthole: await loadListings(contenders.porthole.url, counts),
    distribution: await loadListings(contenders.distribution.url, counts),
  };
  const catalogSize = Math.min(CATALOG_PAGE, settings.repositories);
  await expectSameListing(contenders, CATALOG_PATH, 'repositories', catalogSize);
  await expectSameListing(contenders, TAGS_PATH, 'tags', settings.tags);
  const loadTime = (name: string, key: keyof ListingLoadTimes): Figure =>
    figureOf(name, 's', 1, { porthole: [times.porthole[key]], distribution: [times.distribution[key]] });
  console.error('bench: catalog and tags list');
  return [
    loadTime(`load ${settings.repositories} repositories through the API (2 mounts + 1 manifest PUT each, ${settings.loadConcurrency} at a time), once`, 'repositories'),
    loadTime(`load ${settings.tags} tags of one manifest through the API, once`, 'tags'),
    await loadFigure(listingSpec(`catalog, ${catalogSize} of ${settings.repositories} repositories (GET ${CATALOG_PATH}, wrk -t2 -c32)`, CATALOG_PATH), contenders, settings),
    await loadFigure(listingSpec(`tags list, ${settings.tags} tags (wrk -t2 -c32)`, TAGS_PATH), contenders, settings),
  ];
}
