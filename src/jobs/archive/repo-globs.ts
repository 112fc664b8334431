/**
 * Repository globs of backup and restore (`--repo`, jobs.backup.repos): `*` matches within one
 * path component, `**` across components (`team/**` is `team` and everything under it, `**\/cache`
 * any repository whose last component is `cache`); everything else is literal. No globs: every
 * repository.
 */
export type RepoMatcher = (repo: string) => boolean;

const GLOB_CHARACTERS = /^[a-z0-9._/*-]+$/;

/** Why a glob cannot match any repository name, or undefined when it is usable. */
export function repoGlobProblem(glob: string): string | undefined {
  if (!GLOB_CHARACTERS.test(glob)) return `"${glob}" may hold only lower-case letters, digits, '.', '_', '-', '/' and the wildcards * and **`;
  if (glob.includes('***')) return `"${glob}" has three *s in a row: use * within a path component or ** across them`;
  if (glob.startsWith('/') || glob.endsWith('/') || glob.includes('//')) return `"${glob}" has an empty path component`;
  return undefined;
}

function escapeLiteral(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\-]/g, '\\$&');
}

function globPattern(glob: string): RegExp {
  let pattern = '';
  for (let i = 0; i < glob.length; ) {
    if (glob.startsWith('**/', i) && (i === 0 || glob[i - 1] === '/')) {
      pattern += '(?:.*/)?';
      i += 3;
    } else if (glob.startsWith('/**', i) && i + 3 === glob.length) {
      pattern += '(?:/.*)?';
      i += 3;
    } else if (glob.startsWith('**', i)) {
      pattern += '.*';
      i += 2;
    } else if (glob[i] === '*') {
      pattern += '[^/]*';
      i += 1;
    } else {
      pattern += escapeLiteral(glob[i] as string);
      i += 1;
    }
  }
  return new RegExp(`^${pattern}$`);
}

/** A matcher for `globs` (all of which must be usable: see repoGlobProblem); empty: everything. */
export function repoMatcher(globs: readonly string[]): RepoMatcher {
  if (globs.length === 0) return () => true;
  for (const glob of globs) {
    const problem = repoGlobProblem(glob);
    if (problem !== undefined) throw new Error(`repository glob ${problem}`);
  }
  const patterns = globs.map(globPattern);
  return (repo) => patterns.some((pattern) => pattern.test(repo));
}
