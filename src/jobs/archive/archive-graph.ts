import type { Digest } from '../../core/digest.js';
import { isRegistryError } from '../../core/errors.js';
import { parseManifest, type Descriptor, type ParsedManifest } from '../../core/manifest.js';
import { MEDIA_TYPES } from '../../core/media-types.js';
import { ArchiveError } from './archive-error.js';

/** A manifest of the archive, read whole and verified. */
export interface ArchiveManifest {
  digest: Digest;
  /** As its referring descriptor gives it (what the registry will store it under). */
  mediaType: string;
  bytes: Buffer;
  parsed: ParsedManifest;
}

/** Most JSON held before index.json says which of it is manifests (an archive that puts index.json last). */
const MAX_HELD_JSON_BYTES = 512 * 1024 * 1024;

/**
 * What an archive's index.json and manifests say, learnt as the tar streams past: the index
 * entries, and every manifest they reach (an index's children), held in memory. It is complete
 * once index.json and every manifest it reaches have been read. Until index.json is read, any blob
 * could be a manifest: small JSON blobs are held in case (skopeo writes index.json last).
 */
export class ArchiveGraph {
  private entries: Descriptor[] | undefined;
  private readonly held = new Map<string, Buffer>();
  private heldBytes = 0;
  /** Manifests something in the archive points at, with the descriptor that does. */
  private readonly wanted = new Map<string, Descriptor>();
  private readonly manifests = new Map<string, ArchiveManifest>();

  get indexRead(): boolean {
    return this.entries !== undefined;
  }

  /** index.json's entries (after setIndex). */
  get index(): readonly Descriptor[] {
    return this.entries ?? [];
  }

  setIndex(bytes: Buffer): void {
    try {
      this.entries = parseManifest(bytes, MEDIA_TYPES.ociIndex).manifests;
    } catch (err) {
      throw new ArchiveError(`index.json is not an OCI image index: ${isRegistryError(err) ? err.message : String(err)}`);
    }
    for (const entry of this.entries) this.want(entry);
  }

  /** Whether blob `digest` is known to be a manifest (so it must be held). */
  isManifest(digest: Digest): boolean {
    return this.wanted.has(digest.value);
  }

  /** Whether a blob that nothing is known to point at yet should be held in case it is a manifest. */
  mayBeManifest(size: number): boolean {
    return !this.isComplete() && size <= 4 * 1024 * 1024;
  }

  /** Takes a verified blob that is, or may be, a manifest. */
  hold(digest: Digest, bytes: Buffer): void {
    if (this.held.has(digest.value)) return;
    if (!this.wanted.has(digest.value)) {
      // Only JSON objects can be manifests.
      const first = bytes.find((byte) => byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09);
      if (first !== 0x7b) return;
      this.heldBytes += bytes.length;
      if (this.heldBytes > MAX_HELD_JSON_BYTES) throw new ArchiveError(`more than ${MAX_HELD_JSON_BYTES / 1024 / 1024} MiB of JSON blobs come before index.json: too much to hold while waiting for it`);
    }
    this.held.set(digest.value, bytes);
    const wanted = this.wanted.get(digest.value);
    if (wanted) this.parse(wanted, bytes);
  }

  /** The held bytes of a blob (a manifest, or a JSON config held before index.json). */
  heldBytesOf(digest: Digest): Buffer | undefined {
    return this.held.get(digest.value);
  }

  isComplete(): boolean {
    // Only wanted manifests are ever parsed, so equal counts mean none is missing.
    return this.entries !== undefined && this.manifests.size === this.wanted.size;
  }

  /** Manifests pointed at but not (yet) read. */
  missingManifests(): string[] {
    return [...this.wanted.keys()].filter((digest) => !this.manifests.has(digest));
  }

  manifest(digest: Digest): ArchiveManifest | undefined {
    return this.manifests.get(digest.value);
  }

  /** Whether manifest `target` is `root` or among the manifests it reaches (an index's children, theirs...). */
  reaches(root: Digest, target: string): boolean {
    const stack = [root.value];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const digest = stack.pop() as string;
      if (digest === target) return true;
      if (seen.has(digest)) continue;
      seen.add(digest);
      for (const child of this.manifests.get(digest)?.parsed.manifests ?? []) stack.push(child.digest.value);
    }
    return false;
  }

  /** Notes that something points at manifest `descriptor`; parses it at once when it was read already. */
  private want(descriptor: Descriptor): void {
    if (this.wanted.has(descriptor.digest.value)) return;
    this.wanted.set(descriptor.digest.value, descriptor);
    const bytes = this.held.get(descriptor.digest.value);
    if (bytes) this.parse(descriptor, bytes);
  }

  /** Parses a wanted manifest, wanting its children in turn. */
  private parse(descriptor: Descriptor, bytes: Buffer): void {
    const digest = descriptor.digest.value;
    if (this.manifests.has(digest)) return;
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(bytes, descriptor.mediaType);
    } catch (err) {
      throw new ArchiveError(`blob ${digest} is listed as a manifest (${descriptor.mediaType}) but is not a valid one: ${isRegistryError(err) ? err.message : String(err)}`);
    }
    this.manifests.set(digest, { digest: descriptor.digest, mediaType: parsed.mediaType, bytes, parsed });
    for (const child of parsed.manifests) this.want(child);
  }
}
