import type { Driver } from '../driver.js';
import { layout, REPOSITORIES, REPOSITORY_MARKERS } from '../layout.js';
import { noBroadcasts, type Broadcasts } from '../broadcasts.js';

/** What replicas broadcast when a repository is written to: its name. */
const TOPIC = 'repository-written';

/**
 * The set of repository names, read from storage once (on the first catalog request) and kept up
 * to date by this process's own writes and, where replicas share the storage, by theirs
 * (broadcast), so the catalog never walks the tree per request. A replica that may have missed a
 * broadcast reads storage again on its next catalog request.
 */
export class RepositoryIndex {
  private names: Set<string> | undefined;
  private sorted: string[] | undefined;
  /** Names this process has written to or heard of since it started: each is broadcast once. */
  private readonly known = new Set<string>();

  constructor(
    private readonly driver: Driver,
    private readonly broadcasts: Broadcasts = noBroadcasts,
  ) {
    broadcasts.subscribe(TOPIC, (repo) => this.add(repo));
    broadcasts.onGap(() => {
      this.names = undefined;
      this.sorted = undefined;
    });
  }

  async exists(repo: string): Promise<boolean> {
    const entries = await this.driver.list(layout.repository(repo));
    return REPOSITORY_MARKERS.some((marker) => entries.includes(marker));
  }

  noteWritten(repo: string): void {
    if (this.add(repo)) this.broadcasts.publish(TOPIC, repo);
  }

  /** Adds a name the set did not hold (when it is read already); true when the name is new to this process. */
  private add(repo: string): boolean {
    if (this.names?.has(repo) || this.known.has(repo)) return false;
    this.known.add(repo);
    if (this.names) {
      this.names.add(repo);
      this.sorted = undefined;
    }
    return true;
  }

  async list(): Promise<string[]> {
    if (!this.names) this.names = new Set(await this.scan());
    this.sorted ??= [...this.names].sort();
    return this.sorted;
  }

  /** The repositories on disk now, including those other processes made (a full walk: for maintenance). */
  scan(): Promise<string[]> {
    return this.walk(REPOSITORIES, '');
  }

  private async walk(dir: string, prefix: string): Promise<string[]> {
    const entries = await this.driver.list(dir);
    const found: string[] = [];
    if (prefix && REPOSITORY_MARKERS.some((marker) => entries.includes(marker))) found.push(prefix);
    for (const entry of entries) {
      if (entry.startsWith('_')) continue;
      found.push(...(await this.walk(`${dir}/${entry}`, prefix ? `${prefix}/${entry}` : entry)));
    }
    return found;
  }
}
