import type { Digest } from '../../core/digest.js';
import { mapLimited } from '../../storage/concurrency.js';
import type { Driver } from '../../storage/driver.js';
import { layout } from '../../storage/layout.js';

/** Link checks in flight: a corrupt item is rare, and its report should not wait on thousands of stats one by one. */
const STAT_CONCURRENCY = 8;

/**
 * The repositories among `repositories` that link `digest`, as a layer (or config) or as a
 * manifest revision. Two stats per repository: asked only for the corrupt, so a clean scrub never
 * pays for a map of every link in the store.
 */
export async function repositoriesLinking(driver: Driver, repositories: readonly string[], digest: Digest): Promise<string[]> {
  const linked = await mapLimited(repositories, STAT_CONCURRENCY, async (repo) => {
    if ((await driver.stat(layout.blobLink(repo, digest))) !== undefined) return true;
    return (await driver.stat(layout.manifestRevision(repo, digest))) !== undefined;
  });
  return repositories.filter((_, index) => linked[index] === true);
}
