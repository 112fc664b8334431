/**
 * Everything a test pushed to one registry, in push order, so that cleanup can delete it:
 * manifests first (newest first, so that a referrer goes before its subject), then blobs.
 */
export class ContentLedger {
  readonly manifests: Array<{ repo: string; digest: string }> = [];
  private readonly blobKeys = new Set<string>();
  readonly blobs: Array<{ repo: string; digest: string }> = [];
  readonly repositories = new Set<string>();

  /** `onRecord` hears of every entry as it is made (a worker thread passes them on to the main thread's ledger). */
  constructor(private readonly onRecord?: (kind: 'manifest' | 'blob', repo: string, digest: string) => void) {}

  manifest(repo: string, digest: string): void {
    this.repositories.add(repo);
    this.manifests.push({ repo, digest });
    this.onRecord?.('manifest', repo, digest);
  }

  blob(repo: string, digest: string): void {
    this.repositories.add(repo);
    const key = `${repo}@${digest}`;
    if (this.blobKeys.has(key)) return;
    this.blobKeys.add(key);
    this.blobs.push({ repo, digest });
    this.onRecord?.('blob', repo, digest);
  }

  get empty(): boolean {
    return this.manifests.length === 0 && this.blobs.length === 0;
  }
}
