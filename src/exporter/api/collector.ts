import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { PortholeLogger } from '../../observability/logger.js';
import type { ManifestCache } from './manifest-cache.js';
import { MANIFEST_ACCEPT, ManifestParseError, parseManifestEntry, type ManifestClass } from './manifest-kind.js';
import { mapLimited } from '../../storage/concurrency.js';
import { readPorthole, type PortholeFigures } from './porthole-extras.js';
import { chooseProbeTarget, probePull, timed, type ProbeResult, type StepResult } from './probe.js';
import { nextLink, parseJson, RegistryRequestError, statusError, type RegistryClient, type RegistryResponse } from './registry-client.js';
import { noManifests, repositoryFigures, type RepositoryFigures } from './repository-figures.js';

/** What one successful collection found. */
export interface CollectionResult {
  repositories: number;
  tags: number;
  figures: RepositoryFigures[];
  manifests: Record<ManifestClass, number>;
  probe: ProbeResult;
  porthole: PortholeFigures | undefined;
  /** Manifests fetched by this collection (0 when nothing changed since the last). */
  manifestsFetched: number;
}

export interface CollectorSettings {
  jobCount: number;
  userAgent: string;
  /** Page size asked of the catalog and of tag lists. */
  pageSize?: number;
  /** Repositories read at once, and tags resolved at once within each. */
  concurrency?: number;
}

const CATALOG_SCOPE = 'registry:catalog:*';
/** A pagination that keeps going past this many pages is a loop, not a registry. */
const MAX_PAGES = 100_000;

/**
 * One collection: ping, catalog (paginated), each repository's tag list (read once, paginated),
 * each tag's digest by HEAD, and a GET only of manifests whose digest the cache has never seen
 * (index children by digest, once). Then the figures, the cache pruned to what the tags reach,
 * the synthetic probe, and porthole's management API when the target is porthole.
 */
export class Collector {
  /** Manifest fetches under way, by digest: concurrent repositories that meet one digest share one GET. */
  private readonly fetching = new Map<string, Promise<void>>();
  private fetched = 0;
  /** The ping step of the last collection (its duration is exported even when the collection fails there). */
  lastPing: StepResult | undefined;

  constructor(
    private readonly client: RegistryClient,
    private readonly cache: ManifestCache,
    private readonly settings: CollectorSettings,
    private readonly log: PortholeLogger,
  ) {}

  private get pageSize(): number {
    return this.settings.pageSize ?? 1000;
  }

  private get concurrency(): number {
    return this.settings.concurrency ?? 4;
  }

  async collect(signal: AbortSignal): Promise<CollectionResult> {
    // Every concurrent request listens for the collection's end: many listeners by design, no leak.
    setMaxListeners(0, signal);
    this.fetched = 0;
    this.lastPing = undefined;
    let pingError: unknown;
    const ping = await timed(async () => {
      try {
        const response = await this.client.request('v2/', { scope: '', signal });
        if (response.status !== 200) throw statusError(response, `${this.client.url('v2/').href}`, false);
        return true;
      } catch (err) {
        pingError = err;
        throw err;
      }
    });
    this.lastPing = ping;
    if (!ping.ok) throw pingError;
    // porthole's management API is read beside the OCI API; a failure there is not the registry's.
    const porthole = readPorthole(this.client, this.settings.jobCount, signal).catch((err: unknown) => {
      this.log.debug({ err }, 'porthole management API not read');
      return undefined;
    });
    const names = await this.catalog(signal);
    const repositories = await mapLimited(names, this.concurrency, async (name) => {
      const tags = await this.tagList(name, signal);
      const digests = (await mapLimited(tags, this.concurrency, (tag) => this.resolveTag(name, tag, signal))).filter((d): d is string => d !== undefined);
      return { name, tags: tags.length, digests };
    });
    const live = new Set<string>();
    const figures = repositories.map((repo) => repositoryFigures(repo.name, repo.tags, repo.digests, this.cache, live));
    const dropped = this.cache.prune(live);
    const manifests = noManifests();
    let tags = 0;
    for (const figure of figures) {
      tags += figure.tags;
      for (const kind of Object.keys(manifests) as ManifestClass[]) manifests[kind] += figure.manifests[kind];
    }
    const target = chooseProbeTarget(repositories, this.cache);
    const pull = target ? await probePull(this.client, target, signal, `${this.settings.userAgent} (probe)`) : {};
    this.log.debug({ repositories: names.length, tags, manifestsFetched: this.fetched, cached: this.cache.size, dropped }, 'collection read the registry');
    return { repositories: names.length, tags, figures, manifests, probe: { ping, ...pull }, porthole: await porthole, manifestsFetched: this.fetched };
  }

  /** Every page of a paginated listing, following Link rel="next"; `read` takes a page's names. */
  private async paginate(first: string, scope: string, what: string, signal: AbortSignal, read: (body: unknown) => string[] | undefined, notFound?: () => string[]): Promise<string[]> {
    const names: string[] = [];
    let url: URL | undefined = this.client.url(first);
    const seen = new Set<string>();
    for (let page = 0; url !== undefined && page < MAX_PAGES; page += 1) {
      if (seen.has(url.href)) break;
      seen.add(url.href);
      const response: RegistryResponse = await this.client.request(url, { scope, signal, accept: 'application/json' });
      if (response.status === 404 && notFound) return notFound();
      if (response.status !== 200) throw statusError(response, what, true);
      const page = read(parseJson(response, what));
      if (page === undefined) throw new RegistryRequestError(`${what} did not answer a listing`, 'invalid');
      for (const name of page) names.push(name);
      url = nextLink(response);
    }
    return names;
  }

  private catalog(signal: AbortSignal): Promise<string[]> {
    return this.paginate(`v2/_catalog?n=${this.pageSize}`, CATALOG_SCOPE, 'the catalog (/v2/_catalog)', signal, (body) => {
      const list = (body as { repositories?: unknown } | null)?.repositories;
      if (list === null) return [];
      return Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string') : undefined;
    });
  }

  /** A repository's tags; a repository that vanished since the catalog (404) has none. */
  private tagList(name: string, signal: AbortSignal): Promise<string[]> {
    return this.paginate(
      `v2/${name}/tags/list?n=${this.pageSize}`,
      `repository:${name}:pull`,
      `the tag list of ${name}`,
      signal,
      (body) => {
        const list = (body as { tags?: unknown } | null)?.tags;
        // distribution answers "tags": null for a repository whose tags were all deleted.
        if (list === null || list === undefined) return [];
        return Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string') : undefined;
      },
      () => [],
    );
  }

  /** The digest a tag points at now (HEAD), its manifest fetched if never seen; undefined when the tag vanished. */
  private async resolveTag(name: string, tag: string, signal: AbortSignal): Promise<string | undefined> {
    const scope = `repository:${name}:pull`;
    const head = await this.client.request(`v2/${name}/manifests/${encodeURIComponent(tag)}`, { method: 'HEAD', scope, signal, accept: MANIFEST_ACCEPT });
    if (head.status === 404) return undefined;
    if (head.status !== 200) throw statusError(head, `HEAD of ${name}:${tag}`, true);
    const header = head.headers['docker-content-digest'];
    const digest = typeof header === 'string' && /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(header) ? this.cache.intern(header) : undefined;
    if (digest !== undefined) {
      await this.ensure(name, digest, signal, false);
      return digest;
    }
    // A registry that does not say the digest on HEAD: GET by tag and compute it.
    const response = await this.client.request(`v2/${name}/manifests/${encodeURIComponent(tag)}`, { scope, signal, accept: MANIFEST_ACCEPT });
    this.client.counts.manifestGets += 1;
    this.fetched += 1;
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw statusError(response, `manifest ${name}:${tag}`, true);
    const computed = this.cache.intern(`sha256:${createHash('sha256').update(response.body).digest('hex')}`);
    if (!this.cache.has(computed)) await this.store(name, computed, response, signal);
    return computed;
  }

  /** Makes sure the cache holds `digest` (GET by digest once, shared by concurrent callers). */
  private ensure(name: string, digest: string, signal: AbortSignal, child: boolean): Promise<void> {
    if (this.cache.has(digest) || (child && this.cache.isMissing(digest))) return Promise.resolve();
    const running = this.fetching.get(digest);
    if (running) return running;
    const fetch = this.fetchManifest(name, digest, signal, child).finally(() => this.fetching.delete(digest));
    this.fetching.set(digest, fetch);
    return fetch;
  }

  private async fetchManifest(name: string, digest: string, signal: AbortSignal, child: boolean): Promise<void> {
    const response = await this.client.request(`v2/${name}/manifests/${digest}`, { scope: `repository:${name}:pull`, signal, accept: MANIFEST_ACCEPT });
    this.client.counts.manifestGets += 1;
    this.fetched += 1;
    if (response.status === 404) {
      // An index child the registry lacks (a copy of one platform of a multi-platform image).
      if (child) this.cache.markMissing(digest);
      return;
    }
    if (response.status !== 200) throw statusError(response, `manifest ${name}@${digest}`, true);
    await this.store(name, digest, response, signal);
  }

  private async store(name: string, digest: string, response: RegistryResponse, signal: AbortSignal): Promise<void> {
    let parsed;
    try {
      parsed = parseManifestEntry(response.body, response.headers['content-type'] as string | undefined);
    } catch (err) {
      if (err instanceof ManifestParseError) throw new RegistryRequestError(`manifest ${name}@${digest} is unusable: ${err.message}`, 'invalid');
      throw err;
    }
    const entry = this.cache.put(digest, response.body.length, parsed);
    if (entry.children.length > 0) await mapLimited(entry.children, this.concurrency, (child) => this.ensure(name, child, signal, true));
  }
}
