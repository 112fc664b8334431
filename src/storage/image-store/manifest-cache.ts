/**
 * Manifest bytes by digest, least recently used out first, bounded by total bytes. Safe to cache
 * without invalidation: a digest names its bytes forever. Whether a repository still holds the
 * manifest, or where a tag points, is read from storage on every request, never from here.
 */
export class ManifestCache {
  private readonly entries = new Map<string, Buffer>();
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  get(digest: string): Buffer | undefined {
    const bytes = this.entries.get(digest);
    if (bytes === undefined) return undefined;
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.entries.delete(digest);
    this.entries.set(digest, bytes);
    return bytes;
  }

  set(digest: string, bytes: Buffer): void {
    if (bytes.length > this.maxBytes || this.entries.has(digest)) return;
    this.entries.set(digest, bytes);
    this.total += bytes.length;
    for (const [oldest, oldBytes] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.total -= oldBytes.length;
    }
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.total };
  }
}
