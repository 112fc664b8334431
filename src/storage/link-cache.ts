import type { ChangeFeed, Driver } from './driver.js';
import type { CacheSize } from './types.js';
import { RepositoryChangesDriver } from './repository-changes.js';

/** A tag (`.../_manifests/tags/<tag>`) or a manifest revision (`.../_manifests/revisions/<alg>/<hex>`). */
const LINK = /\/_manifests\/(tags|revisions)\//;
const MANIFESTS = '/_manifests/';

/** How many links are kept: a few hundred bytes each, a few MB at most. */
export const MAX_CACHED_LINKS = 20_000;

/**
 * Tags and manifest revisions as read from storage, by path, grouped by repository, for as long
 * as nothing changes them. Every manifest GET reads one or two of these tiny files, and on the
 * machines porthole is measured on each read costs four system calls through the thread pool:
 * most of such a request's time. A cached link is forgotten when this process changes anything
 * in or above its repository (RepositoryChangesDriver sees every change), and everything is
 * forgotten when another process announces a change (a CLI job beside serve). Only links that
 * exist are kept: a tag pushed by another process is found on disk at once.
 */
export class LinkCache {
  /** Repository directory → its links by path; Map order is least recently filled first. */
  private readonly byRepository = new Map<string, Map<string, Buffer>>();
  private count = 0;
  /** About the memory held: each link's path and content. */
  private bytes = 0;
  /**
   * Counts changes: a read that began before a change finished must not keep what it read,
   * which may predate the change.
   */
  private generation = 0;

  constructor(private readonly maxLinks = MAX_CACHED_LINKS) {}

  /** Whether `path` is a link this cache keeps. */
  static holds(path: string): boolean {
    return LINK.test(path);
  }

  get(path: string): Buffer | undefined {
    return this.byRepository.get(repositoryOf(path))?.get(path);
  }

  /** The generation to hand back to `keep` with what a read brings. */
  get current(): number {
    return this.generation;
  }

  /** Keeps what a read that began at `generation` found, unless something changed since. */
  keep(path: string, bytes: Buffer, generation: number): void {
    if (generation !== this.generation) return;
    const repository = repositoryOf(path);
    let links = this.byRepository.get(repository);
    if (!links) this.byRepository.set(repository, (links = new Map()));
    const previous = links.get(path);
    if (previous === undefined) this.count += 1;
    this.bytes += sizeOf(path, bytes) - (previous === undefined ? 0 : sizeOf(path, previous));
    links.set(path, bytes);
    for (const [oldest, oldLinks] of this.byRepository) {
      if (this.count <= this.maxLinks) break;
      this.dropRepository(oldest, oldLinks);
    }
  }

  /** Forgets whatever a change at `path` (an object, or a directory and all under it) may affect. */
  forget(path: string): void {
    this.generation += 1;
    if (path.includes(MANIFESTS)) {
      // A link, or a directory inside one repository's manifests: only that repository's links.
      const links = this.byRepository.get(repositoryOf(path));
      for (const [key, bytes] of links ?? []) {
        if (!isAtOrUnder(key, path)) continue;
        links?.delete(key);
        this.count -= 1;
        this.bytes -= sizeOf(key, bytes);
      }
      return;
    }
    // A whole repository or a directory above it: each repository at or under the path. A change
    // elsewhere inside one (its layers, its referrers) matches none and forgets nothing.
    for (const [key, repositoryLinks] of this.byRepository) {
      if (isAtOrUnder(key, path)) this.dropRepository(key, repositoryLinks);
    }
  }

  private dropRepository(repository: string, links: Map<string, Buffer>): void {
    this.byRepository.delete(repository);
    this.count -= links.size;
    for (const [key, bytes] of links) this.bytes -= sizeOf(key, bytes);
  }

  /** Forgets everything: another process changed something. */
  clear(): void {
    this.generation += 1;
    this.byRepository.clear();
    this.count = 0;
    this.bytes = 0;
  }

  get size(): CacheSize {
    return { entries: this.count, bytes: this.bytes };
  }
}

function sizeOf(path: string, bytes: Buffer): number {
  return path.length + bytes.length;
}

/** Whether `key` is `path` or lies under it; the root ('' or '.') holds everything. */
function isAtOrUnder(key: string, path: string): boolean {
  return key === path || key.startsWith(`${path}/`) || path === '' || path === '.';
}

/** The repository directory of a path inside it (`repositories/<name>`), or the path itself. */
function repositoryOf(path: string): string {
  const at = path.indexOf(MANIFESTS);
  return at === -1 ? path : path.slice(0, at);
}

/**
 * serve's driver on a storage whose other processes announce their changes (the filesystem):
 * tags and revisions from memory once read. Without a working feed (inotify unavailable, or
 * broken later) nothing is kept and every read goes to storage, as before.
 */
export class LinkCachingDriver extends RepositoryChangesDriver {
  private readonly cache: LinkCache;
  /** Set while the feed is followed: only then is anything kept. */
  private stopWatching: (() => void) | undefined;

  constructor(
    inner: Driver,
    private readonly feed: ChangeFeed,
    private readonly onLost: (err: Error) => void,
    cache = new LinkCache(),
  ) {
    super(inner, { starting: (path) => cache.forget(path), settled: (path) => cache.forget(path) });
    this.cache = cache;
  }

  private get watching(): boolean {
    return this.stopWatching !== undefined;
  }

  /** Follows the feed once the storage is ready (the feed's marker exists from then on). */
  private follow(): void {
    if (this.watching) return;
    try {
      this.stopWatching = this.feed.watch(
        () => this.cache.clear(),
        (err) => {
          this.stopWatching = undefined;
          this.cache.clear();
          this.onLost(err);
        },
      );
    } catch (err) {
      this.onLost(err as Error);
    }
  }

  override async init(): Promise<void> {
    await super.init();
    this.follow();
  }

  override async attach(): Promise<void> {
    await super.attach();
    this.follow();
  }

  override read(path: string): Promise<Buffer | undefined> {
    if (!this.watching || !LinkCache.holds(path)) return this.inner.read(path);
    const hit = this.cache.get(path);
    if (hit !== undefined) return Promise.resolve(hit);
    const generation = this.cache.current;
    return this.inner.read(path).then((bytes) => {
      if (bytes !== undefined && this.watching) this.cache.keep(path, bytes, generation);
      return bytes;
    });
  }

  /** Stops following the feed; reads go to storage from then on. */
  close(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
    this.cache.clear();
  }
}
