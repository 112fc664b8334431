import type { AccessControlConfig, RepositoryAction } from '../config/auth-schema.js';
import { REPOSITORY_ACTIONS } from '../config/auth-schema.js';

/** A repository pattern: `*` matches within one path segment, `**` across segments. */
function patternRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] as string;
    if (char === '*' && pattern[index + 1] === '*') {
      source += '.*';
      index += 1;
    } else if (char === '*') source += '[^/]*';
    else source += char.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

interface CompiledPolicy {
  users: ReadonlySet<string>;
  groups: readonly string[];
  actions: ReadonlySet<RepositoryAction>;
}

interface CompiledRepository {
  pattern: string;
  matches: RegExp;
  policies: CompiledPolicy[];
  defaultPolicy: ReadonlySet<RepositoryAction>;
  anonymousPolicy: ReadonlySet<RepositoryAction>;
}

/** Who may do what on which repository (docs/auth.md). `user` undefined is an anonymous request. */
export interface AccessPolicy {
  allows(user: string | undefined, repository: string, action: RepositoryAction): boolean;
  /** Whether anonymous requests may do anything anywhere: then the version check and the catalog answer them. */
  readonly anonymousAnywhere: boolean;
  /** Whether an authenticated user is an admin: named by adminPolicy (its users or groups); without accessControl, every user. The management API admits admins. */
  isAdmin(user: string): boolean;
}

const EVERYTHING: ReadonlySet<RepositoryAction> = new Set(REPOSITORY_ACTIONS);
const NOTHING: ReadonlySet<RepositoryAction> = new Set();

/** Without accessControl: authenticated users may do everything, anonymous requests nothing. */
export const authenticatedOnly: AccessPolicy = {
  allows: (user) => user !== undefined,
  anonymousAnywhere: false,
  // Every user may do everything everywhere: each is an admin.
  isAdmin: () => true,
};

/**
 * The accessControl section, compiled. For a repository the most specific matching pattern (the
 * longest) applies; a user gets the union of the policies naming them or their groups, its
 * defaultPolicy and anonymousPolicy (a user may always do what anyone may); adminPolicy adds its
 * actions on every repository. A repository no pattern matches is open to admins only.
 */
export function compileAccessControl(config: NonNullable<AccessControlConfig>): AccessPolicy {
  const groupsOf = new Map<string, string[]>();
  for (const [group, members] of Object.entries(config.groups)) for (const member of members) groupsOf.set(member, [...(groupsOf.get(member) ?? []), group]);
  const compile = (policy: { users: string[]; groups: string[]; actions: RepositoryAction[] }): CompiledPolicy => ({
    users: new Set(policy.users),
    groups: policy.groups,
    actions: new Set(policy.actions),
  });
  const repositories: CompiledRepository[] = Object.entries(config.repositories)
    .map(([pattern, repository]) => ({
      pattern,
      matches: patternRegExp(pattern),
      policies: repository.policies.map(compile),
      defaultPolicy: new Set(repository.defaultPolicy),
      anonymousPolicy: new Set(repository.anonymousPolicy),
    }))
    .sort((a, b) => b.pattern.length - a.pattern.length);
  const admin = config.adminPolicy ? compile(config.adminPolicy) : undefined;
  const names = (policy: CompiledPolicy, user: string): boolean => policy.users.has(user) || policy.groups.some((group) => groupsOf.get(user)?.includes(group) === true);
  const actionsOf = (user: string | undefined, repository: string): ReadonlySet<RepositoryAction> => {
    const matched = repositories.find((candidate) => candidate.matches.test(repository));
    if (user === undefined) return matched?.anonymousPolicy ?? NOTHING;
    const granted = new Set<RepositoryAction>();
    if (admin && names(admin, user)) for (const action of admin.actions) granted.add(action);
    if (matched) {
      for (const action of matched.anonymousPolicy) granted.add(action);
      for (const action of matched.defaultPolicy) granted.add(action);
      for (const policy of matched.policies) if (names(policy, user)) for (const action of policy.actions) granted.add(action);
    }
    return granted.size === EVERYTHING.size ? EVERYTHING : granted;
  };
  return {
    allows: (user, repository, action) => actionsOf(user, repository).has(action),
    anonymousAnywhere: repositories.some((repository) => repository.anonymousPolicy.size > 0),
    isAdmin: (user) => admin !== undefined && names(admin, user),
  };
}
