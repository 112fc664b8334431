import type { ManifestClass, ParsedEntry } from './manifest-kind.js';

/**
 * What the exporter keeps of one manifest: its class, its byte length and the digests (with
 * sizes) it references. Digests are interned, so a layer shared by a thousand images is one string.
 */
export interface CachedManifest {
  kind: ManifestClass;
  /** The manifest's own byte length. */
  size: number;
  /** Config and layers (or an artifact's blobs). */
  blobs: readonly string[];
  blobSizes: Float64Array;
  /** Child manifests of an index. */
  children: readonly string[];
}

const NONE: readonly string[] = Object.freeze([]);
const NO_SIZES = new Float64Array(0);
/** A child manifest that answered 404 is asked for again only after this long. */
const MISSING_RETRY_MS = 10 * 60_000;

/**
 * Manifests by digest, shared by every repository. A manifest is immutable, so one fetched is
 * never fetched again while a tag still reaches it; `prune` drops those no tag reaches any more,
 * which bounds the cache by what the registry holds now.
 */
export class ManifestCache {
  private readonly entries = new Map<string, CachedManifest>();
  /** Index children that the registry does not hold (a partial copy of a multi-platform image), until when not to ask again. */
  private readonly missing = new Map<string, number>();
  private readonly strings = new Map<string, string>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.entries.size;
  }

  get(digest: string): CachedManifest | undefined {
    return this.entries.get(digest);
  }

  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  /** Keeps what matters of a parsed manifest of `size` bytes under its digest. */
  put(digest: string, size: number, parsed: ParsedEntry): CachedManifest {
    const entry: CachedManifest = {
      kind: parsed.kind,
      size,
      blobs: parsed.blobs.length === 0 ? NONE : parsed.blobs.map((ref) => this.intern(ref.digest)),
      blobSizes: parsed.blobs.length === 0 ? NO_SIZES : Float64Array.from(parsed.blobs, (ref) => ref.size),
      children: parsed.children.length === 0 ? NONE : parsed.children.map((ref) => this.intern(ref.digest)),
    };
    this.entries.set(this.intern(digest), entry);
    this.missing.delete(digest);
    return entry;
  }

  markMissing(digest: string): void {
    this.missing.set(digest, this.now() + MISSING_RETRY_MS);
  }

  /** Whether `digest` answered 404 recently enough not to be asked for again. */
  isMissing(digest: string): boolean {
    const until = this.missing.get(digest);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.missing.delete(digest);
    return false;
  }

  /** Drops every manifest not in `live` (what the tags reach now) and the strings only they used. */
  prune(live: ReadonlySet<string>): number {
    let dropped = 0;
    for (const digest of this.entries.keys()) {
      if (!live.has(digest)) {
        this.entries.delete(digest);
        dropped += 1;
      }
    }
    for (const digest of this.missing.keys()) if (!live.has(digest)) this.missing.delete(digest);
    this.strings.clear();
    for (const [digest, entry] of this.entries) {
      this.strings.set(digest, digest);
      for (const blob of entry.blobs) this.strings.set(blob, blob);
      for (const child of entry.children) this.strings.set(child, child);
    }
    return dropped;
  }

  intern(text: string): string {
    const known = this.strings.get(text);
    if (known !== undefined) return known;
    this.strings.set(text, text);
    return text;
  }
}
