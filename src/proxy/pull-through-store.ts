import { setTimeout as sleep } from 'node:timers/promises';
import { localFlights, type Flights } from '../coordination/flights.js';
import type { Readable } from 'node:stream';
import { digestOf, tryParseDigest, type Digest, type DigestAlgorithm } from '../core/digest.js';
import { RegistryError } from '../core/errors.js';
import { referenceText, type ManifestReference } from '../core/reference.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { LocalCache } from '../storage/local-cache.js';
import { isStorageFull } from '../storage/storage-full.js';
import type {
  BlobContent,
  BlobInfo,
  CacheStats,
  ChunkOptions,
  PullProvenance,
  PutManifestResult,
  RangeChooser,
  ReferrerDescriptor,
  RegistryStore,
  StorageStats,
  StoredManifest,
  UploadOptions,
  UploadStatus,
} from '../storage/types.js';
import { AccessMarks } from './access-marks.js';
import { BlobFetch } from './blob-fetch.js';
import type { Namespaces, ProxiedName } from './namespaces.js';
import { BackgroundWork } from './background-work.js';
import type { Upstream } from './upstream.js';
import { blobClientError, clientErrorOf } from './upstream-errors.js';
import { isUpstreamFailure, UpstreamFailure, UpstreamUnavailable, type UpstreamOutcome } from './upstream-failure.js';
import { untraced, type SpanLink, type TraceScope, type Tracing } from '../observability/tracing/tracing.js';

export interface PullThroughSettings {
  airGapped: boolean;
  alwaysPullLatest: boolean;
  tagTtlMs: number;
}

type Proxied = ProxiedName<Upstream>;

/**
 * One request's work on the cache: its place in the trace, and the local store bound to it, so
 * that what is done after an await (fetches, the cache's writes) is still that request's.
 */
interface InTrace {
  trace: TraceScope;
  local: LocalCache;
}
type TagReference = Extract<ManifestReference, { kind: 'tag' }>;

/** Outcomes that are the upstream's fault: it was down, too slow, failed, or sent something broken. */
const UPSTREAM_FAULTS: ReadonlySet<UpstreamOutcome> = new Set(['timeout', 'unreachable', 'server_error', 'broken']);

/**
 * The pull-through cache, as a decorator of the local store (distribution's registry/proxy):
 * hosted names pass straight through; names under an upstream's namespace are served from the
 * local store when cached, otherwise fetched upstream, verified and cached on the way to the
 * client. Concurrent requests for one manifest or blob share a single upstream fetch. A cached
 * tag past its TTL is served at once and checked upstream in the background (one check per tag
 * at a time), so no client waits for a slow or hanging upstream when the cache can answer.
 */
export class PullThroughStore implements RegistryStore {
  /** Manifest downloads running, with the span that joining requests link to. */
  private readonly manifestFetches = new Map<string, { fetched: Promise<StoredManifest>; link: SpanLink | undefined }>();
  private readonly blobFetches = new Map<string, BlobFetch>();
  /** Blobs whose flight (flights.ts) this process is taking: its other requests for them wait for the same answer. */
  private readonly claims = new Map<string, Promise<BlobFetch | undefined>>();
  private readonly revalidations: BackgroundWork;
  private readonly accesses: AccessMarks;

  constructor(
    private readonly local: LocalCache,
    private readonly namespaces: Namespaces<Upstream>,
    private readonly settings: PullThroughSettings,
    private readonly tracing: Pick<Tracing, 'here' | 'bindStore'>,
    private readonly log: PortholeLogger,
    /** Single flight of downloads across the replicas that share the storage (one process alone: localFlights). */
    private readonly flights: Flights = localFlights,
  ) {
    this.accesses = new AccessMarks(local, log);
    this.revalidations = new BackgroundWork((tag, err) => log.error({ tag, err }, 'cached tag could not be checked upstream'));
  }

  init(): Promise<void> {
    return this.local.init();
  }

  /** Work at a place in a trace: by default the caller's, held for the work after its first await; or a fetch's own span. */
  private inTrace(trace: TraceScope = this.tracing.here()): InTrace {
    return { trace, local: trace.recording ? this.tracing.bindStore(this.local, trace) : this.local };
  }

  /** Work that outlives its request (a background check): a trace of nobody's. */
  private untracedWork(): InTrace {
    return { trace: untraced, local: this.local };
  }

  // ---- manifests ----------------------------------------------------------------------------

  async getManifest(repo: string, reference: ManifestReference): Promise<StoredManifest | undefined> {
    const proxied = this.namespaces.upstreamOf(repo);
    if (!proxied) return this.local.getManifest(repo, reference);
    const work = this.inTrace();
    const found = await this.getCachedOrFetched(work, repo, proxied, reference);
    if (found) await this.accesses.note(repo, found.digest);
    return found;
  }

  private async getCachedOrFetched(work: InTrace, repo: string, proxied: Proxied, reference: ManifestReference): Promise<StoredManifest | undefined> {
    const cached = await work.local.getManifest(repo, reference);
    if (cached && (this.settings.airGapped || (await this.isFresh(work, repo, reference)))) return withProvenance(cached, proxied, 'cache');
    if (this.settings.airGapped) return undefined;
    if (cached && reference.kind === 'tag' && !this.checkedInFront(proxied, reference)) {
      this.revalidateInBackground(repo, proxied, reference, cached);
      return withProvenance(cached, proxied, 'cache');
    }
    try {
      return cached && reference.kind === 'tag' ? await this.revalidate(work, repo, proxied, reference, cached) : await this.fetchManifest(work, repo, proxied, reference);
    } catch (err) {
      if (cached && isUpstreamFailure(err) && err.outcome !== 'not_found') {
        this.log.debug({ repo, reference: referenceText(reference), err: err.message }, 'upstream unavailable; serving the cached manifest');
        return withProvenance(cached, proxied, 'cache');
      }
      throw clientErrorOf(err, () => new RegistryError('MANIFEST_UNKNOWN', `manifest ${referenceText(reference)} is not in ${proxied.upstream.name}/${proxied.remote} upstream`, { reference: referenceText(reference) }));
    }
  }

  /**
   * Whether a stale tag is checked upstream before the client is answered: only `latest` with
   * alwaysPullLatest, and only while the upstream is reachable (its circuit closed). That is the
   * promise of alwaysPullLatest (as with distribution and Harbor: a reachable upstream is asked
   * first); while the upstream is down, waiting for it would only delay the cached answer.
   */
  private checkedInFront(proxied: Proxied, reference: TagReference): boolean {
    return this.settings.alwaysPullLatest && reference.tag === 'latest' && proxied.upstream.available();
  }

  /** A cached tag past its TTL: a HEAD says whether it moved, without downloading anything; if it did, the new manifest is fetched. */
  private async revalidate(work: InTrace, repo: string, proxied: Proxied, reference: TagReference, cached: StoredManifest): Promise<StoredManifest> {
    const current = await proxied.upstream.headManifest(proxied.remote, reference.tag, work.trace);
    if (current !== cached.digest.value) return this.fetchManifest(work, repo, proxied, reference);
    // Written again, so that the tag is trusted for another tagTtl.
    await work.local.cacheManifest(repo, reference, cached.bytes, cached.mediaType);
    return withProvenance(cached, proxied, 'cache');
  }

  /** Checks a stale tag after its cached manifest has been served; one check per tag at a time. */
  private revalidateInBackground(repo: string, proxied: Proxied, reference: TagReference, cached: StoredManifest): void {
    this.revalidations.start(`${repo}:${reference.tag}`, async () => {
      try {
        await this.revalidate(this.untracedWork(), repo, proxied, reference, cached);
      } catch (err) {
        await this.revalidationFailed(repo, reference, err);
      }
    });
  }

  private async revalidationFailed(repo: string, reference: TagReference, err: unknown): Promise<void> {
    const fields = { repo, reference: reference.tag };
    if (!isUpstreamFailure(err)) throw err;
    if (err.outcome === 'not_found') {
      // The upstream no longer has the tag: neither does its cache (the manifest stays, by digest, until pruned).
      // A check that started just before another one removed the tag finds nothing left to remove.
      if (await this.local.deleteTag(repo, reference.tag)) this.log.info(fields, 'cached tag removed: the upstream no longer has it');
    } else {
      // An outage is logged once by the upstream; the cached manifest is what clients get meanwhile.
      this.log.debug({ ...fields, reason: err.message }, 'cached tag could not be checked upstream; still serving it');
    }
  }

  /** A digest never changes; a tag is trusted for tagTtl, and `latest` never with alwaysPullLatest. */
  private async isFresh(work: InTrace, repo: string, reference: ManifestReference): Promise<boolean> {
    if (reference.kind === 'digest') return true;
    if (this.settings.alwaysPullLatest && reference.tag === 'latest') return false;
    const writtenAt = await work.local.tagWrittenAt(repo, reference.tag);
    return writtenAt !== undefined && Date.now() - writtenAt < this.settings.tagTtlMs;
  }

  private fetchManifest(work: InTrace, repo: string, proxied: Proxied, reference: ManifestReference): Promise<StoredManifest> {
    const key = `${repo}@${referenceText(reference)}`;
    const attributes = { 'porthole.repo': repo, 'porthole.reference': referenceText(reference), 'porthole.upstream': proxied.upstream.name };
    const running = this.manifestFetches.get(key);
    // Only the request that started a fetch pulled from upstream; those that joined it did not.
    // A joining request's span links to the fetch's: it waited on it, it is not its parent.
    if (running) {
      const joined = work.trace.span('proxy.awaitFetch', attributes, () => running.fetched, running.link ? [running.link] : undefined);
      return joined.then((manifest) => withProvenance(manifest, proxied, 'cache'));
    }
    const span = work.trace.startSpan('proxy.fetchManifest', attributes);
    const fetched = this.downloadManifest(this.inTrace(span.scope), repo, proxied, reference)
      .then(
        (manifest) => {
          span.setAttributes({ 'porthole.digest': manifest.digest.value });
          span.end();
          return manifest;
        },
        (err: unknown) => {
          span.end(err);
          throw err;
        },
      )
      .finally(() => this.manifestFetches.delete(key));
    this.manifestFetches.set(key, { fetched, link: span.link });
    return fetched;
  }

  private async downloadManifest(work: InTrace, repo: string, proxied: Proxied, reference: ManifestReference): Promise<StoredManifest> {
    const text = referenceText(reference);
    const fetched = await proxied.upstream.getManifest(proxied.remote, text, work.trace);
    const algorithm: DigestAlgorithm = reference.kind === 'digest' ? reference.digest.algorithm : 'sha256';
    const digest = digestOf(fetched.bytes, algorithm);
    const claimed = fetched.digest === undefined ? undefined : tryParseDigest(fetched.digest);
    const expected = reference.kind === 'digest' ? reference.digest : claimed?.algorithm === algorithm ? claimed : undefined;
    if (expected && expected.hex !== digest.hex) {
      throw new UpstreamFailure(`${proxied.upstream.name} sent manifest ${proxied.remote}:${text} with digest ${digest.value}, not ${expected.value}`, 'broken');
    }
    const stored = await work.local.cacheManifest(repo, reference, fetched.bytes, fetched.mediaType);
    const cached = await work.local.getManifest(repo, { kind: 'digest', digest: stored.digest });
    if (!cached) throw new Error(`manifest ${stored.digest.value} vanished from ${repo} right after it was cached`);
    return withProvenance(cached, proxied, 'upstream');
  }

  // ---- blobs --------------------------------------------------------------------------------

  async statBlob(repo: string, digest: Digest): Promise<BlobInfo | undefined> {
    const work = this.inTrace();
    for (let landings = 0; ; landings += 1) {
      const local = await work.local.statBlob(repo, digest);
      const proxied = this.namespaces.upstreamOf(repo);
      if (local || !proxied || this.settings.airGapped) return local;
      const flight = await this.fetchOrLanded(work, repo, proxied, digest);
      if (flight) return { digest, size: await this.sizeWhenKnown(work, flight.fetch, flight.joined, repo, proxied) };
      if (landings === MAX_LANDINGS) throw notLanded(proxied, digest);
    }
  }

  async openBlob(repo: string, digest: Digest, chooseRange?: RangeChooser): Promise<BlobContent | undefined> {
    const proxied = this.namespaces.upstreamOf(repo);
    if (!proxied) return this.local.openBlob(repo, digest, chooseRange);
    const work = this.inTrace();
    const namespace = proxied.upstream.name;
    let fetch = this.blobFetches.get(fetchKey(repo, digest));
    let joined = fetch !== undefined;
    for (let landings = 0; !fetch; landings += 1) {
      const cached = await work.local.openBlob(repo, digest, chooseRange);
      if (cached) return { ...cached, provenance: { namespace, source: 'cache' } };
      if (this.settings.airGapped) return undefined;
      if (landings > MAX_LANDINGS) throw notLanded(proxied, digest);
      const flight = await this.fetchOrLanded(work, repo, proxied, digest);
      // Downloaded by another replica meanwhile: the next turn finds it in the cache.
      if (flight) ({ fetch, joined } = flight);
    }
    const size = await this.sizeWhenKnown(work, fetch, joined, repo, proxied);
    const range = chooseRange?.(size) ?? { start: 0, end: size - 1 };
    const stream = fetch.read(range.start, range.end);
    // The first download served from a fetch is the pull that went upstream (a HEAD may have
    // started it); others that join it cost the upstream nothing more.
    return { digest, size, stream, provenance: { namespace, source: fetch.claimFirstRead() ? 'upstream' : 'cache' } };
  }

  /**
   * The blob's size once its download knows it. A request that joined a download another started
   * waits for it in a span of its own, linked to the download's: it is not the download's parent.
   */
  private sizeWhenKnown(work: InTrace, fetch: BlobFetch, joined: boolean, repo: string, proxied: Proxied): Promise<number> {
    if (!joined) return sizeOf(fetch, proxied);
    const attributes = { 'porthole.repo': repo, 'porthole.digest': fetch.digest.value, 'porthole.upstream': proxied.upstream.name };
    return work.trace.span('proxy.awaitFetch', attributes, () => sizeOf(fetch, proxied), fetch.link ? [fetch.link] : undefined);
  }

  /**
   * The download of a blob: the one running here (joined), or a new one once this replica has
   * taken the blob's flight; undefined when another replica held the flight and has finished
   * with it (the blob is then in the cache, unless that download failed). Requests of this
   * process that come while the flight is being taken wait for the same answer.
   */
  private async fetchOrLanded(work: InTrace, repo: string, proxied: Proxied, digest: Digest): Promise<{ fetch: BlobFetch; joined: boolean } | undefined> {
    const key = fetchKey(repo, digest);
    const running = this.blobFetches.get(key);
    if (running && running.failure() === undefined) return { fetch: running, joined: true };
    const claiming = this.claims.get(key);
    if (claiming) {
      const fetch = await claiming;
      return fetch && { fetch, joined: true };
    }
    const claim = this.claimFlight(work, repo, proxied, digest).finally(() => this.claims.delete(key));
    this.claims.set(key, claim);
    const fetch = await claim;
    return fetch && { fetch, joined: false };
  }

  private async claimFlight(work: InTrace, repo: string, proxied: Proxied, digest: Digest): Promise<BlobFetch | undefined> {
    const key = fetchKey(repo, digest);
    const lease = await this.flights.take(key);
    // Taken just after another replica stored the blob and let its flight go: nothing to fetch.
    if (lease && (await work.local.statBlob(repo, digest))) {
      await lease.release();
      return undefined;
    }
    if (lease) {
      const { fetch } = this.blobFetch(work, repo, proxied, digest);
      void fetch.done.catch(() => undefined).then(() => lease.release());
      return fetch;
    }
    const attributes = { 'porthole.repo': repo, 'porthole.digest': digest.value, 'porthole.upstream': proxied.upstream.name };
    await work.trace.span('proxy.awaitReplica', attributes, () => this.whileHeldElsewhere(key));
    return undefined;
  }

  /** Waits while another replica holds the flight of `key` (polling, backing off to 250 ms). */
  private async whileHeldElsewhere(key: string): Promise<void> {
    let pause = 20;
    while (await this.flights.held(key)) {
      await sleep(pause);
      pause = Math.min(pause * 2, 250);
    }
  }

  /** The running download of a blob (joined), or a new one; it leaves the table when it ends, either way. */
  private blobFetch(work: InTrace, repo: string, proxied: Proxied, digest: Digest): { fetch: BlobFetch; joined: boolean } {
    const key = fetchKey(repo, digest);
    const running = this.blobFetches.get(key);
    if (running && running.failure() === undefined) return { fetch: running, joined: true };
    // The download is a span of its own, started by this request (its parent) but shared by every
    // request that joins it (they link to it), and it may outlive them all.
    const span = work.trace.startSpan('proxy.fetchBlob', { 'porthole.repo': repo, 'porthole.digest': digest.value, 'porthole.upstream': proxied.upstream.name });
    const { trace, local } = this.inTrace(span.scope);
    const fetch = new BlobFetch(local, proxied.upstream, repo, proxied.remote, digest, trace, span.link);
    this.blobFetches.set(key, fetch);
    fetch.done.then(
      () => {
        span.end();
        this.blobFetches.delete(key);
      },
      (err: unknown) => {
        span.end(err);
        if (this.blobFetches.get(key) === fetch) this.blobFetches.delete(key);
        this.logBlobFailure(repo, digest, err);
      },
    );
    return { fetch, joined: false };
  }

  /**
   * The upstream's faults are warnings with its reason (the client was told 503 UNAVAILABLE);
   * porthole's own are errors. Clear answers (404, 401, 429) are the client's business, and a
   * request the circuit kept from an upstream known to be down is not a new failure (that outage
   * was logged once): both at debug.
   */
  private logBlobFailure(repo: string, digest: Digest, err: unknown): void {
    const fields = { repo, digest: digest.value };
    // A full disk is logged by the storage-full watch, once a minute, not once per download.
    if (isStorageFull(err)) return this.log.debug({ ...fields, err }, 'blob download from upstream failed; nothing was cached');
    if (!isUpstreamFailure(err)) return this.log.error({ ...fields, err }, 'blob download from upstream failed; nothing was cached');
    const quiet = err instanceof UpstreamUnavailable || !UPSTREAM_FAULTS.has(err.outcome);
    this.log[quiet ? 'debug' : 'warn']({ ...fields, outcome: err.outcome, reason: err.message }, 'blob download from upstream failed; nothing was cached');
  }

  /** The cached copy's location, when there is one; a blob still to be fetched is served by openBlob. */
  blobLocation(repo: string, digest: Digest): Promise<string | undefined> {
    return this.local.blobLocation(repo, digest);
  }

  deleteBlob(repo: string, digest: Digest): Promise<boolean> {
    this.refuseWrite(repo);
    return this.local.deleteBlob(repo, digest);
  }

  mountBlob(repo: string, digest: Digest, from: string): Promise<BlobInfo | undefined> {
    this.refuseWrite(repo);
    return this.local.mountBlob(repo, digest, from);
  }

  // ---- writes: hosted names only ------------------------------------------------------------

  /** The cache holds what its upstream has; pushes and deletions there would make it lie. */
  private refuseWrite(repo: string): void {
    const proxied = this.namespaces.upstreamOf(repo);
    if (proxied) {
      throw new RegistryError('UNSUPPORTED', `${repo} is in the pull-through cache of ${proxied.upstream.name}; push to a name outside that namespace`);
    }
  }

  startUpload(repo: string, algorithm?: DigestAlgorithm, options?: UploadOptions): Promise<UploadStatus> {
    this.refuseWrite(repo);
    return this.local.startUpload(repo, algorithm, options);
  }

  getUpload(repo: string, id: string): Promise<UploadStatus | undefined> {
    this.refuseWrite(repo);
    return this.local.getUpload(repo, id);
  }

  appendUpload(repo: string, id: string, body: Readable, options: ChunkOptions): Promise<UploadStatus> {
    this.refuseWrite(repo);
    return this.local.appendUpload(repo, id, body, options);
  }

  finishUpload(repo: string, id: string, digest: Digest, finalChunk?: { body: Readable; options: ChunkOptions }): Promise<BlobInfo> {
    this.refuseWrite(repo);
    return this.local.finishUpload(repo, id, digest, finalChunk);
  }

  cancelUpload(repo: string, id: string): Promise<boolean> {
    this.refuseWrite(repo);
    return this.local.cancelUpload(repo, id);
  }

  purgeUploads(maxIdleMs: number): Promise<number> {
    return this.local.purgeUploads(maxIdleMs);
  }

  putManifest(repo: string, reference: ManifestReference, bytes: Buffer, contentType: string | undefined, extraTags?: string[]): Promise<PutManifestResult> {
    this.refuseWrite(repo);
    return this.local.putManifest(repo, reference, bytes, contentType, extraTags);
  }

  deleteManifest(repo: string, digest: Digest): Promise<boolean> {
    this.refuseWrite(repo);
    return this.local.deleteManifest(repo, digest);
  }

  deleteTag(repo: string, tag: string): Promise<boolean> {
    this.refuseWrite(repo);
    return this.local.deleteTag(repo, tag);
  }

  // ---- discovery: what is cached ------------------------------------------------------------

  async repositoryExists(repo: string): Promise<boolean> {
    // A name under an upstream exists as far as the client is concerned: the upstream decides.
    if (this.namespaces.upstreamOf(repo) && !this.settings.airGapped) return true;
    return this.local.repositoryExists(repo);
  }

  listTags(repo: string): Promise<readonly string[] | undefined> {
    return this.local.listTags(repo);
  }

  listRepositories(): Promise<string[]> {
    return this.local.listRepositories();
  }

  listReferrers(repo: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    return this.local.listReferrers(repo, subject);
  }

  stats(): Promise<StorageStats> {
    return this.local.stats();
  }

  cacheStats(): CacheStats {
    return this.local.cacheStats();
  }

  /** At shutdown, when no request is left: downloads nobody waits for are stopped, not finished. */
  async close(): Promise<void> {
    const running = [...this.blobFetches.values()];
    for (const fetch of running) fetch.abort();
    await Promise.all(running.map((fetch) => fetch.done.catch(() => undefined)));
  }

  /** Resolves once no background check is running (at shutdown, after the upstreams have cut theirs off). */
  backgroundSettled(): Promise<void> {
    return this.revalidations.settled();
  }
}

function withProvenance(manifest: StoredManifest, proxied: Proxied, source: PullProvenance['source']): StoredManifest {
  return { ...manifest, provenance: { namespace: proxied.upstream.name, source } };
}

/**
 * How often a request finds a blob downloaded by another replica and still not in the cache (its
 * download failed) before it gives up: each time it tries to download the blob itself first.
 */
const MAX_LANDINGS = 3;

function notLanded(proxied: Proxied, digest: Digest): RegistryError {
  return new RegistryError('UNAVAILABLE', `blob ${digest.value} could not be fetched from ${proxied.upstream.name}: the downloads of other replicas failed; try again`);
}

function fetchKey(repo: string, digest: Digest): string {
  return `${repo}@${digest.value}`;
}

/** The size of a blob being fetched, or the client's error when the upstream could not supply it. */
async function sizeOf(fetch: BlobFetch, proxied: Proxied): Promise<number> {
  try {
    return await fetch.sized;
  } catch (err) {
    throw blobClientError(err, proxied.upstream.name, proxied.remote, fetch.digest.value);
  }
}
