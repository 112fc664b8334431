import { REPOSITORY_ACTIONS, type RepositoryAction } from '../config/auth-schema.js';

/**
 * Scopes and grants of the Docker/OCI token flow (distribution's docs/spec/auth/scope.md): a
 * client asks for `repository:team/app:pull,push` (and `registry:catalog:*`), and a token's
 * `access` claim holds what was granted, as `{type, name, actions}` entries.
 */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** The catalog's scope, as distribution names it in its challenge and clients ask for it. */
export const CATALOG_SCOPE: AccessEntry = { type: 'registry', name: 'catalog', actions: ['*'] };

/** Scopes taken from one token request at most, and the length of one: a bound on the work a request can ask for. */
const MAX_SCOPES = 50;
const MAX_SCOPE_LENGTH = 512;

/**
 * One `scope` parameter: `type[(class)]:name:actions`. The name may hold colons (a host with a
 * port: `repository:localhost:5000/app:pull`), so the type ends at the first colon and the actions
 * start after the last, as docker's own parser has it. Undefined for anything else.
 */
export function parseScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first + 1) return undefined;
  // The resource class (`repository(plugin)`) narrows nothing porthole keeps apart.
  const type = scope.slice(0, first).replace(/\([a-z0-9]+\)$/, '');
  const actions = scope.slice(last + 1).split(',').filter((action) => action !== '');
  return { type, name: scope.slice(first + 1, last), actions };
}

/** The scopes of a token request's `scope` parameters (each may list several, space-separated), merged by resource. */
export function parseScopes(parameters: readonly string[]): AccessEntry[] {
  const merged = new Map<string, AccessEntry>();
  const scopes = parameters.flatMap((parameter) => parameter.split(' ')).filter((scope) => scope !== '');
  for (const scope of scopes.slice(0, MAX_SCOPES)) {
    if (scope.length > MAX_SCOPE_LENGTH) continue;
    const entry = parseScope(scope);
    if (entry === undefined) continue;
    const key = `${entry.type}:${entry.name}`;
    const known = merged.get(key);
    if (known === undefined) merged.set(key, entry);
    else known.actions = [...new Set([...known.actions, ...entry.actions])];
  }
  return [...merged.values()];
}

/** The scope parameter of a Bearer challenge for `entry` (`repository:team/app:pull,push`). */
export function formatScope(entry: AccessEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(',')}`;
}

/**
 * The actions `requested` names that are repository actions; `*` names them all (docker_auth and
 * other issuers grant `*`).
 */
export function repositoryActions(requested: readonly string[]): RepositoryAction[] {
  if (requested.includes('*')) return [...REPOSITORY_ACTIONS];
  return REPOSITORY_ACTIONS.filter((action) => requested.includes(action));
}

/** What a token's `access` claim grants, for lookups on every request. */
export class Grants {
  private readonly repositories = new Map<string, ReadonlySet<RepositoryAction>>();
  readonly catalog: boolean;

  constructor(access: readonly AccessEntry[]) {
    let catalog = false;
    for (const entry of access) {
      if (entry.type === 'repository') this.repositories.set(entry.name, new Set([...(this.repositories.get(entry.name) ?? []), ...repositoryActions(entry.actions)]));
      else if (entry.type === 'registry' && entry.name === 'catalog' && entry.actions.includes('*')) catalog = true;
    }
    this.catalog = catalog;
  }

  allows(repository: string, action: RepositoryAction): boolean {
    return this.repositories.get(repository)?.has(action) === true;
  }
}

/**
 * The `access` claim of a verified token, as entries; anything not of that shape is dropped (an
 * external issuer's claim is trusted for what it grants, not for its form).
 */
export function accessClaim(claim: unknown): AccessEntry[] {
  if (!Array.isArray(claim)) return [];
  return claim.flatMap((entry: unknown) => {
    const { type, name, actions } = (entry ?? {}) as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions)) return [];
    return [{ type, name, actions: actions.filter((action): action is string => typeof action === 'string') }];
  });
}
