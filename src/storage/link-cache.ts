import type { ChangeFeed, Driver, FileInfo } from './driver.js';
import type { CacheSize } from './types.js';
import { BLOBS, isAtOrUnder, isStorageRoot } from './layout.js';
import { RepositoryChangesDriver } from './repository-changes.js';

/** A tag (`.../_manifests/tags/<tag>`) or a manifest revision (`.../_manifests/revisions/<alg>/<hex>`): kept as read. */
const LINK = /\/_manifests\/(tags|revisions)\//;
/** A layer link (`.../_layers/<alg>/<hex>`) or a blob's data (`blobs/<alg>/<xx>/<hex>/data`): kept as stat sees them. */
const STATTED = /\/_layers\/[^/]+\/[^/]+$|^blobs\/[^/]+\/[^/]+\/[^/]+\/data$/;
/** A repository's own directories: what comes before one is the repository. */
const REPOSITORY_PARTS = ['/_manifests', '/_layers'];
const DATA = '/data';

/** What is kept of a path: a link's bytes, or what stat said of a layer link or a blob's data. */
type Kept = Buffer | FileInfo;

/** How many links are kept: a few hundred bytes each, a few MB at most. */
export const MAX_CACHED_LINKS = 20_000;

/**
 * Tags and manifest revisions as read from storage, and layer links and blob data as stat sees
 * them, by path, grouped by repository (or blob), for as long as nothing changes them. Every
 * manifest GET reads one or two of these tiny files, and every blob HEAD or GET stats a link and
 * the data; on the machines porthole is measured on each costs system calls through the thread
 * pool: most of such a request's time. What is kept of a path is forgotten when this process
 * changes anything at or above it (RepositoryChangesDriver sees every change), and everything is
 * forgotten when another process announces a change (a CLI job beside serve). Only what exists
 * is kept: a tag pushed or a blob linked by another process is found on disk at once.
 *
 * A blob's data is stat'ed for its size and its use mark (its modification time, which only ever
 * moves forward): a kept mark is never newer than the one on disk, so a request that finds it
 * recent is right to write none (garbage collection sees one at least as recent), and one that
 * finds it old writes one (touch), which forgets what was kept.
 */
export class LinkCache {
  /** Repository (or blob) directory → what is kept under it, by path; Map order is least recently filled first. */
  private readonly byRepository = new Map<string, Map<string, Kept>>();
  private count = 0;
  /** About the memory held: each link's path and content. */
  private bytes = 0;
  /**
   * Counts changes: a read that began before a change finished must not keep what it read,
   * which may predate the change.
   */
  private generation = 0;

  constructor(private readonly maxLinks = MAX_CACHED_LINKS) {}

  /** Whether `path` is a link this cache keeps as read. */
  static holds(path: string): boolean {
    return LINK.test(path);
  }

  /** Whether `path` is a layer link or a blob's data, which this cache keeps as stat sees them. */
  static holdsStat(path: string): boolean {
    return STATTED.test(path);
  }

  get(path: string): Kept | undefined {
    return this.byRepository.get(groupOf(path))?.get(path);
  }

  /** The generation to hand back to `keep` with what a read brings. */
  get current(): number {
    return this.generation;
  }

  /** Keeps what a read that began at `generation` found, unless something changed since. */
  keep(path: string, kept: Kept, generation: number): void {
    if (generation !== this.generation) return;
    const group = groupOf(path);
    let links = this.byRepository.get(group);
    if (!links) this.byRepository.set(group, (links = new Map()));
    const previous = links.get(path);
    if (previous === undefined) this.count += 1;
    this.bytes += sizeOf(path, kept) - (previous === undefined ? 0 : sizeOf(path, previous));
    links.set(path, kept);
    for (const [oldest, oldLinks] of this.byRepository) {
      if (this.count <= this.maxLinks) break;
      this.dropRepository(oldest, oldLinks);
    }
  }

  /** Forgets whatever a change at `path` (an object, or a directory and all under it) may affect. */
  forget(path: string): void {
    this.generation += 1;
    const group = groupOf(path);
    if (group !== path) {
      // Inside one repository's manifests or layers, or one blob's directory: only what is kept there.
      const links = this.byRepository.get(group);
      for (const [key, kept] of links ?? []) {
        if (!changedBy(key, path)) continue;
        links?.delete(key);
        this.count -= 1;
        this.bytes -= sizeOf(key, kept);
      }
      return;
    }
    // A whole repository or blob, or a directory above them: each one at or under the path. A
    // change elsewhere inside a repository (its referrers) matches none and forgets nothing.
    for (const [key, repositoryLinks] of this.byRepository) {
      if (changedBy(key, path)) this.dropRepository(key, repositoryLinks);
    }
  }

  private dropRepository(repository: string, links: Map<string, Kept>): void {
    this.byRepository.delete(repository);
    this.count -= links.size;
    for (const [key, kept] of links) this.bytes -= sizeOf(key, kept);
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

/** About the memory an entry holds: its path and what is kept (a stat's two numbers). */
function sizeOf(path: string, kept: Kept): number {
  return path.length + (Buffer.isBuffer(kept) ? kept.length : 16);
}

/** Whether what is kept at `key` lies at or under a change at `path` (the root holds everything). */
function changedBy(key: string, path: string): boolean {
  return isAtOrUnder(key, path) || isStorageRoot(path);
}

/**
 * What a path is kept under: the repository directory (`repositories/<name>`) of a path inside
 * its manifests or layers, the blob directory of its data, or else the path itself.
 */
function groupOf(path: string): string {
  for (const part of REPOSITORY_PARTS) {
    const at = path.indexOf(part);
    // The directory itself, or anything in it (not `_manifestsX`, which no repository has anyway).
    if (at !== -1 && (path.length === at + part.length || path[at + part.length] === '/')) return path.slice(0, at);
  }
  return path.endsWith(DATA) && path.startsWith(`${BLOBS}/`) ? path.slice(0, -DATA.length) : path;
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
    return this.kept(path, () => this.inner.read(path)) as Promise<Buffer | undefined>;
  }

  readFromMemory(path: string): Buffer | undefined {
    const hit = this.held(path);
    return Buffer.isBuffer(hit) ? hit : undefined;
  }

  statFromMemory(path: string): FileInfo | undefined {
    const hit = this.held(path);
    return hit === undefined || Buffer.isBuffer(hit) ? undefined : hit;
  }

  /** What is kept of `path`, while the feed is followed (nothing is trusted otherwise). */
  private held(path: string): Kept | undefined {
    return this.watching ? this.cache.get(path) : undefined;
  }

  statKept(path: string): Promise<FileInfo | undefined> {
    if (!this.watching || !LinkCache.holdsStat(path)) return this.inner.stat(path);
    return this.kept(path, () => this.inner.stat(path)) as Promise<FileInfo | undefined>;
  }

  /** A blob's use mark moves: what was kept of its stat is forgotten once it is written. */
  override touch(path: string): Promise<boolean> {
    if (!LinkCache.holdsStat(path)) return this.inner.touch(path);
    this.cache.forget(path);
    return this.inner.touch(path).finally(() => this.cache.forget(path));
  }

  /** What is kept of `path`, or what `look` finds there (kept unless a change came meanwhile). */
  private kept(path: string, look: () => Promise<Kept | undefined>): Promise<Kept | undefined> {
    const hit = this.cache.get(path);
    if (hit !== undefined) return Promise.resolve(hit);
    const generation = this.cache.current;
    return look().then((found) => {
      if (found !== undefined && this.watching) this.cache.keep(path, found, generation);
      return found;
    });
  }

  /** Stops following the feed; reads go to storage from then on. */
  close(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
    this.cache.clear();
  }
}
