/** The parts of skopeo's JSON output that the tests look at (skopeo 1.9, `inspect` and `list-tags`). */

export interface SkopeoInspect {
  Name: string;
  Digest: string;
  RepoTags: string[];
  Architecture: string;
  Os: string;
  Layers: string[];
}

export interface SkopeoConfig {
  architecture: string;
  os: string;
  rootfs: { type: string; diff_ids: string[] };
}

export interface SkopeoTagList {
  Repository: string;
  Tags: string[];
}

export function parseSkopeoJson<T>(stdout: string): T {
  return JSON.parse(stdout) as T;
}
