import type { Driver } from '../driver.js';
import { layout, REPOSITORIES, REPOSITORY_MARKERS } from '../layout.js';

/**
 * The set of repository names, read from disk once (on the first catalog request) and kept up
 * to date by this process's own writes, so the catalog never walks the tree per request.
 */
export class RepositoryIndex {
  private names: Set<string> | undefined;
  private sorted: string[] | undefined;

  constructor(private readonly driver: Driver) {}

  async exists(repo: string): Promise<boolean> {
    const entries = await this.driver.list(layout.repository(repo));
    return REPOSITORY_MARKERS.some((marker) => entries.includes(marker));
  }

  noteWritten(repo: string): void {
    if (this.names && !this.names.has(repo)) {
      this.names.add(repo);
      this.sorted = undefined;
    }
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
