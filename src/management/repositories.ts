import type { FastifyRequest } from 'fastify';
import { queryOf } from '../http/request-url.js';
import type { StorageGauges } from '../observability/metrics/storage-gauges.js';
import { paginate, type Page } from '../registry/pagination.js';
import { mapLimited } from '../storage/concurrency.js';
import type { Driver } from '../storage/driver.js';
import type { LocalCache } from '../storage/local-cache.js';
import { MANAGEMENT_PREFIX, type RepositoriesResponse, type RepositoryRecord } from './api-types.js';
import type { LastPulls } from './last-pulls.js';
import { repositoryPushes } from './repository-pushes.js';

/** Repositories per page without `n`: the catalog's default. */
export const DEFAULT_REPOSITORY_PAGE = 100;
/** The largest `n`: every repository of a page costs a stat per tag and manifest (repository-pushes.ts). */
export const MAX_REPOSITORY_PAGE = 1000;
/** The longest search text `q` (longer ones are cut): names are at most 255 characters anyway. */
export const MAX_SEARCH_LENGTH = 255;
/** Repositories read at once. */
const CONCURRENCY = 8;

export interface RepositoriesDeps {
  store: LocalCache;
  driver: Driver;
  gauges: StorageGauges;
  lastPulls: LastPulls;
}

/**
 * GET /api/v1/repositories?n=&last=&q=: the repositories the catalog lists, in the same order and
 * paged the same way (pagination.ts, Link header included), each with its tags and last push read
 * from the storage now, its size from the last storage scan (0 for one that scan did not see yet),
 * and its last pull from this process's memory.
 */
export async function repositoriesPage(deps: RepositoriesDeps, request: FastifyRequest): Promise<{ page: Page; body: RepositoriesResponse }> {
  const all = await deps.store.listRepositories();
  // `q`: only the names that contain it, ignoring case (the web dashboard's search); names only, so
  // the storage is read for the page's repositories alone, as without it.
  const search = (queryOf(request).get('q') ?? '').slice(0, MAX_SEARCH_LENGTH).toLowerCase();
  const names = search === '' ? all : all.filter((name) => name.toLowerCase().includes(search));
  const page = paginate(names, request, `${MANAGEMENT_PREFIX}/repositories`, DEFAULT_REPOSITORY_PAGE, { max: MAX_REPOSITORY_PAGE, code: 'PAGINATION_NUMBER_INVALID' });
  // The next page's link keeps the search.
  if (page.next !== undefined && search !== '') page.next = page.next.replace(/>; rel="next"$/, `&q=${encodeURIComponent(search)}>; rel="next"`);
  const sizes = deps.gauges.lastScan?.stats.repositoryBytes;
  const repositories = await mapLimited(page.items, CONCURRENCY, async (name): Promise<RepositoryRecord> => {
    const pushes = await repositoryPushes(deps.driver, deps.store.contents, name);
    const pulled = deps.lastPulls.of(name);
    return {
      name,
      tags: pushes.tags,
      sizeBytes: sizes?.get(name) ?? 0,
      lastPush: pushes.lastPushMs === undefined ? null : new Date(pushes.lastPushMs).toISOString(),
      lastPull: pulled === undefined ? null : new Date(pulled).toISOString(),
    };
  });
  return { page, body: { repositories } };
}
