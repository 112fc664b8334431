import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `porthole --version` and `porthole_info` report. */
export interface BuildInfo {
  version: string;
  /** PORTHOLE_COMMIT when set, else the commit checked out where porthole runs from, else `unknown`. */
  commit: string;
  nodeVersion: string;
}

// dist/src/observability/build-info.js -> the package root.
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OBJECT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The git directory of the package root: `.git` itself, or where a worktree's `.git` file points. */
function gitDirectory(root: string): string | undefined {
  const dotGit = join(root, '.git');
  const info = statSync(dotGit, { throwIfNoEntry: false });
  if (!info) return undefined;
  if (info.isDirectory()) return dotGit;
  const pointer = /^gitdir: (.+)$/m.exec(readText(dotGit) ?? '');
  return pointer?.[1] ? resolve(root, pointer[1]) : undefined;
}

/** The object id a ref names: a loose ref file, else a line of packed-refs. */
function resolveRef(gitDir: string, ref: string): string | undefined {
  // A worktree keeps its HEAD apart but shares the refs of the main repository.
  const commonRelative = readText(join(gitDir, 'commondir'));
  const common = commonRelative ? resolve(gitDir, commonRelative) : gitDir;
  for (const dir of [gitDir, common]) {
    const loose = readText(join(dir, ref));
    if (loose && OBJECT_ID.test(loose)) return loose;
  }
  for (const line of (readText(join(common, 'packed-refs')) ?? '').split('\n')) {
    const [id, name] = line.split(' ');
    if (name === ref && id && OBJECT_ID.test(id)) return id;
  }
  return undefined;
}

/**
 * The commit of the checkout porthole runs from, read from the package root's own `.git` (not
 * from `git`, which would also find the repository of a project that merely contains porthole,
 * and which may not be installed). Read at run time rather than stamped at build time, so that it
 * holds however dist/ was built; undefined outside a git checkout (a tarball, an image without .git).
 */
export function checkedOutCommit(root: string): string | undefined {
  const gitDir = gitDirectory(root);
  const head = gitDir ? readText(join(gitDir, 'HEAD')) : undefined;
  if (!gitDir || !head) return undefined;
  if (OBJECT_ID.test(head)) return head;
  const ref = /^ref: (\S+)$/.exec(head)?.[1];
  return ref ? resolveRef(gitDir, ref) : undefined;
}

export function buildInfo(): BuildInfo {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  const commit = process.env.PORTHOLE_COMMIT || checkedOutCommit(PACKAGE_ROOT) || 'unknown';
  return { version: manifest.version, commit, nodeVersion: process.version };
}
