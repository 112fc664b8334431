import { digestOf, tryParseDigest, type Digest } from '../../core/digest.js';
import { RegistryError } from '../../core/errors.js';
import { parseManifest, requiredBlobs, type ParsedManifest } from '../../core/manifest.js';
import type { ManifestReference } from '../../core/reference.js';
import type { Driver } from '../driver.js';
import { layout } from '../layout.js';
import type { PutManifestResult, ReferrerDescriptor, StoredManifest } from '../types.js';
import type { BlobLinks } from './blobs.js';
import type { ManifestCache } from './manifest-cache.js';
import { Parking } from './parking.js';
import { noSpans, type WorkSpans } from '../work-spans.js';

/**
 * Manifests, tags and the referrers index of each repository. Manifest bytes live in the blob
 * store (content-addressed, kept byte for byte); a revision link marks a manifest as present in
 * a repository and records the media type it was pushed with.
 */
export class ManifestStore {
  private readonly parking: Parking;
  private readonly decodedLinks = new WeakMap<Buffer, Digest | string | undefined>();

  constructor(
    private readonly driver: Driver,
    private readonly blobs: BlobLinks,
    private readonly cache: ManifestCache,
    private readonly spans: WorkSpans = noSpans,
  ) {
    this.parking = new Parking(driver);
  }

  // The reads of a manifest GET chain then() rather than await in async functions: half the
  // promises, on the path of every pull (and each costs more once tracing tracks context).

  /** Manifest bytes by digest from the blob store, cached for the next time. */
  private readBytes(digest: Digest): Promise<Buffer | undefined> {
    return this.driver.read(layout.blobData(digest)).then((bytes) => {
      if (!bytes) return this.parkedBytes(digest);
      // Cached only when whole (hashing a few KiB, once per manifest read from disk): bytes that
      // went bad on disk must not outlive scrub's repair and a re-push in memory.
      if (digestOf(bytes, digest.algorithm).value === digest.value) this.cache.set(digest.value, bytes);
      return bytes;
    });
  }

  /** The bytes of a manifest whose revision is here but whose data a collection has parked: put back. */
  private async parkedBytes(digest: Digest): Promise<Buffer | undefined> {
    if (!(await this.parking.unparkBlob(digest))) return undefined;
    return this.driver.read(layout.blobData(digest));
  }

  resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    return this.driver.read(layout.tag(repo, tag)).then((raw) => (raw ? this.tagTarget(raw) : undefined));
  }

  /** The media type the manifest was pushed with, when it is in the repository (put back when a collection had parked it). */
  private mediaTypeIn(repo: string, digest: Digest): Promise<string | undefined> {
    return this.driver.read(layout.manifestRevision(repo, digest)).then((raw) => (raw ? this.mediaTypeOf(raw) : this.parkedMediaType(repo, digest)));
  }

  /** The digest a tag link's bytes name (undefined when they name none). */
  private tagTarget(raw: Buffer): Digest | undefined {
    return this.decoded(raw, () => tryParseDigest(raw.toString('utf8').trim()));
  }

  /** The media type a revision link's bytes hold. */
  private mediaTypeOf(raw: Buffer): string {
    return this.decoded(raw, () => raw.toString('utf8'));
  }

  /**
   * What a link's bytes say, decoded once per Buffer: serve's driver hands out the same Buffer
   * for as long as it keeps a link (link-cache.ts), so a GET by tag parses nothing again.
   */
  private decoded<T extends Digest | string | undefined>(raw: Buffer, decode: () => T): T {
    if (this.decodedLinks.has(raw)) return this.decodedLinks.get(raw) as T;
    const value = decode();
    this.decodedLinks.set(raw, value);
    return value;
  }

  private async parkedMediaType(repo: string, digest: Digest): Promise<string | undefined> {
    if (!(await this.parking.unparkRevision(repo, digest))) return undefined;
    return (await this.driver.read(layout.manifestRevision(repo, digest)))?.toString('utf8');
  }


  get(repo: string, reference: ManifestReference): Promise<StoredManifest | undefined> {
    const kept = this.keptManifest(repo, reference);
    return kept ? Promise.resolve(kept) : this.read(repo, reference);
  }

  /**
   * The manifest from memory alone, when its tag (for a tag), its revision and its bytes are all
   * kept there: the same answer as read's (the driver keeps links exactly as read), without a
   * promise per link. undefined when any part is not in memory: read then.
   */
  private keptManifest(repo: string, reference: ManifestReference): StoredManifest | undefined {
    const driver = this.driver;
    if (!driver.readFromMemory) return undefined;
    let digest: Digest | undefined;
    if (reference.kind === 'digest') digest = reference.digest;
    else {
      const raw = driver.readFromMemory(layout.tag(repo, reference.tag));
      digest = raw && this.tagTarget(raw);
    }
    if (!digest) return undefined;
    const revision = driver.readFromMemory(layout.manifestRevision(repo, digest));
    if (!revision) return undefined;
    const bytes = this.cache.get(digest.value);
    return bytes && { digest, mediaType: this.mediaTypeOf(revision), bytes };
  }

  private async read(repo: string, reference: ManifestReference): Promise<StoredManifest | undefined> {
    const digest = reference.kind === 'digest' ? reference.digest : await this.resolveTag(repo, reference.tag);
    if (!digest) return undefined;
    const mediaType = await this.mediaTypeIn(repo, digest);
    if (mediaType === undefined) return undefined;
    // From memory when cached: a digest names its bytes forever.
    const bytes = this.cache.get(digest.value) ?? (await this.readBytes(digest));
    return bytes ? { digest, mediaType, bytes } : undefined;
  }

  /** Every referenced blob must be linked here and every child manifest present here. */
  private async assertReferencesExist(repo: string, manifest: ParsedManifest): Promise<void> {
    const missing: RegistryError[] = [];
    for (const blob of requiredBlobs(manifest)) {
      if (!(await this.blobs.stat(repo, blob.digest))) {
        missing.push(new RegistryError('MANIFEST_BLOB_UNKNOWN', `blob ${blob.digest.value} is not in ${repo}; push it first`, { digest: blob.digest.value }));
      }
    }
    for (const child of manifest.manifests) {
      // Marked used: an old untagged manifest that a new index lists must outlive the collection
      // that may be deciding its fate right now.
      if ((await this.mediaTypeIn(repo, child.digest)) === undefined || (await this.blobs.holdData(child.digest)) === undefined) {
        missing.push(new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest ${child.digest.value} is not in ${repo}; push it first`, { digest: child.digest.value }));
      }
    }
    const [first, ...rest] = missing;
    if (first) throw new RegistryError(first.code, first.message, first.detail, { additional: rest });
  }

  /**
   * Validates and stores a manifest. `requireReferences: false` is for the pull-through cache: a
   * manifest fetched from upstream is stored before its blobs, which are fetched when pulled.
   */
  async put(
    repo: string,
    reference: ManifestReference,
    bytes: Buffer,
    contentType: string | undefined,
    extraTags: string[],
    { requireReferences = true }: { requireReferences?: boolean } = {},
  ): Promise<PutManifestResult> {
    const { manifest, digest } = await this.spans.span('manifest.validate', { 'porthole.repo': repo, 'porthole.manifest_bytes': bytes.length }, async () => {
      const parsed = parseManifest(bytes, contentType);
      const actual = digestOf(bytes, reference.kind === 'digest' ? reference.digest.algorithm : 'sha256');
      if (reference.kind === 'digest' && reference.digest.hex !== actual.hex) {
        throw new RegistryError('DIGEST_INVALID', `the manifest's digest is ${actual.value}, not ${reference.digest.value}`, {
          expected: reference.digest.value,
          actual: actual.value,
        });
      }
      if (requireReferences) await this.assertReferencesExist(repo, parsed);
      return { manifest: parsed, digest: actual };
    });

    // Order matters for crash safety: content, then the index entries, then the revision, then
    // tags; a crash at any point leaves only unreferenced extra data, never a dangling pointer.
    // The same content pushed again is marked used: garbage collection leaves it alone.
    const stored = await this.driver.stat(layout.blobData(digest));
    if (!stored) await this.driver.writeAtomic(layout.blobData(digest), bytes);
    else await this.blobs.markUse(digest, stored);
    await this.storeEntries(repo, digest, manifest, bytes, 'always');
    const tags = reference.kind === 'tag' ? [reference.tag, ...extraTags] : extraTags;
    for (const tag of tags) await this.driver.writeAtomic(layout.tag(repo, tag), digest.value);
    // Once more after the tags: a collection of untagged manifests that found this one untagged
    // and old may have removed it meanwhile (it parks, looks for tags, then drops). Whatever it
    // removed is written again; the bytes are at hand.
    await this.storeEntries(repo, digest, manifest, bytes, 'when-missing');
    const result: PutManifestResult = { digest };
    if (manifest.subject) result.subject = manifest.subject.digest;
    return result;
  }

  /**
   * The referrers index entry (`always` rewritten, or only `when-missing`) and the revision of a
   * manifest whose bytes are stored; then the bytes again when a prune or collection removed them
   * meanwhile.
   */
  private async storeEntries(repo: string, digest: Digest, manifest: ParsedManifest, bytes: Buffer, referrerEntry: 'always' | 'when-missing'): Promise<void> {
    if (manifest.subject) {
      const entry = layout.referrer(repo, manifest.subject.digest, digest);
      if (referrerEntry === 'always' || !(await this.driver.stat(entry))) await this.driver.writeAtomic(entry, JSON.stringify(referrerDescriptor(manifest, digest, bytes.length)));
    }
    if ((await this.mediaTypeIn(repo, digest)) !== manifest.mediaType) {
      await this.driver.writeAtomic(layout.manifestRevision(repo, digest), manifest.mediaType);
    }
    if (!(await this.driver.stat(layout.blobData(digest)))) await this.driver.writeAtomic(layout.blobData(digest), bytes);
  }

  async delete(repo: string, digest: Digest): Promise<boolean> {
    const stored = await this.get(repo, { kind: 'digest', digest });
    if (!stored) return false;
    for (const tag of await this.driver.list(layout.tagsDir(repo))) {
      const target = await this.resolveTag(repo, tag);
      if (target?.value === digest.value) await this.driver.remove(layout.tag(repo, tag));
    }
    const subject = subjectOf(stored);
    if (subject) await this.driver.remove(layout.referrer(repo, subject, digest));
    await this.driver.remove(layout.manifestRevision(repo, digest));
    await this.driver.remove(layout.manifestAccess(repo, digest));
    return true;
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    if (!(await this.driver.stat(layout.tag(repo, tag)))) return false;
    await this.driver.remove(layout.tag(repo, tag));
    return true;
  }

  async listReferrers(repo: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    const dir = layout.referrersOf(repo, subject);
    const descriptors: ReferrerDescriptor[] = [];
    for (const entry of (await this.driver.list(dir)).sort()) {
      const raw = await this.driver.read(`${dir}/${entry}`);
      if (raw) descriptors.push(JSON.parse(raw.toString('utf8')) as ReferrerDescriptor);
    }
    return descriptors;
  }
}

function referrerDescriptor(manifest: ParsedManifest, digest: Digest, size: number): ReferrerDescriptor {
  const descriptor: ReferrerDescriptor = { mediaType: manifest.mediaType, digest: digest.value, size };
  if (manifest.artifactType !== undefined) descriptor.artifactType = manifest.artifactType;
  if (manifest.annotations !== undefined) descriptor.annotations = manifest.annotations;
  return descriptor;
}

/** The subject of a stored manifest; stored bytes were validated on push, so parsing is safe. */
function subjectOf(stored: StoredManifest): Digest | undefined {
  try {
    return parseManifest(stored.bytes, stored.mediaType).subject?.digest;
  } catch {
    return undefined;
  }
}
