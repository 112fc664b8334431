/**
 * Everything a test pushed to one registry, in push order, so that cleanup can delete it:
 * manifests first (newest first, so that a referrer goes before its subject), then blobs.
 */
export class ContentLedger {
  readonly manifests: Array<{ repo: string; digest: string }> = [];
  private readonly blobKeys = new Set<string>();
  readonly blobs: Array<{ repo: string; digest: string }> = [];
  readonly repositories = new Set<string>();

  manifest(repo: string, digest: string): void {
    this.repositories.add(repo);
    this.manifests.push({ repo, digest });
  }

  blob(repo: string, digest: string): void {
    this.repositories.add(repo);
    const key = `${repo}@${digest}`;
    if (this.blobKeys.has(key)) return;
    this.blobKeys.add(key);
    this.blobs.push({ repo, digest });
  }

  get empty(): boolean {
    return this.manifests.length === 0 && this.blobs.length === 0;
  }
}
