import { mapLimited } from '../storage/concurrency.js';
import type { Driver } from '../storage/driver.js';
import type { RepositoryContents } from '../storage/image-store/repository-contents.js';
import { layout } from '../storage/layout.js';

/** Files stat'ed at once for one repository. */
const STAT_CONCURRENCY = 16;

export interface RepositoryPushes {
  tags: number;
  /** ms since the epoch of the newest push, or undefined when nothing says. */
  lastPushMs: number | undefined;
}

/**
 * A repository's tag count and last push, from the storage as it is (so pushes by any process
 * count): a push under a tag rewrites the tag's file, and a manifest new to the repository writes
 * its revision link, so the newest modification time among those files is the last push that
 * changed something. Deletions are not pushes and leave it be; a pull-through cache's "push" is
 * when it stored what it fetched. One stat per tag and manifest: the cost of a page grows with
 * what its repositories hold, which is why pages are bounded.
 */
export async function repositoryPushes(driver: Driver, contents: RepositoryContents, repo: string): Promise<RepositoryPushes> {
  const tags = await driver.list(layout.tagsDir(repo));
  const revisions = await contents.manifests(repo);
  const paths = [...tags.map((tag) => layout.tag(repo, tag)), ...revisions.map((digest) => layout.manifestRevision(repo, digest))];
  const times = await mapLimited(paths, STAT_CONCURRENCY, async (path) => (await driver.stat(path))?.modifiedMs);
  // A loop, not Math.max(...times): a repository may have more tags than a call has arguments.
  let lastPushMs: number | undefined;
  for (const time of times) if (time !== undefined && (lastPushMs === undefined || time > lastPushMs)) lastPushMs = time;
  return { tags: tags.length, lastPushMs };
}
