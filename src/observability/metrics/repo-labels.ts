/** The `repo` label shared by every repository past the bound (no name can start with "_"). */
export const OTHER_REPOS = '_other';

/**
 * Bounds the `repo` label: the first `max` repositories seen keep their own value, every later
 * one shares OTHER_REPOS. A registry with 50,000 repositories then costs at most max + 1 series
 * per per-repo metric.
 */
export class RepoLabels {
  private readonly known = new Set<string>();

  constructor(private readonly max: number) {}

  label(repo: string): string {
    if (this.known.has(repo)) return repo;
    if (this.known.size >= this.max) return OTHER_REPOS;
    this.known.add(repo);
    return repo;
  }
}
