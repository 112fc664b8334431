import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.js';
import '../http/request-context.js';
import { queryOf } from '../http/request-url.js';
import { writeError } from '../registry/error-writer.js';
import type { AccessGate } from './access-gate.js';
import { basicCredentialsOf } from './basic-login.js';
import type { AccessPolicy } from './access-policy.js';
import { CATALOG_SCOPE, parseScopes, repositoryActions, type AccessEntry } from './token-scope.js';
import type { TokenIssuer } from './tokens.js';

/** Where porthole serves its own token realm: outside /v2, as distribution's token servers are, so that no /v2 rule applies to it. */
export const TOKEN_PATH = '/auth/token';

/**
 * What a token for `user` (undefined: anonymous) grants of what was asked: for each repository,
 * the requested actions the policies allow (`*` asks for all), and the catalog to anyone who could
 * be listed something. Nothing more than asked, so a token stolen from a client is good for what
 * that client was doing only.
 */
export function grantedAccess(policy: AccessPolicy, user: string | undefined, requested: readonly AccessEntry[]): AccessEntry[] {
  return requested.flatMap((entry): AccessEntry[] => {
    if (entry.type === 'repository') {
      const actions = repositoryActions(entry.actions).filter((action) => policy.allows(user, entry.name, action));
      return actions.length === 0 ? [] : [{ type: 'repository', name: entry.name, actions }];
    }
    const catalog = entry.type === CATALOG_SCOPE.type && entry.name === CATALOG_SCOPE.name && entry.actions.includes('*');
    return catalog && (user !== undefined || policy.anonymousAnywhere) ? [CATALOG_SCOPE] : [];
  });
}

/** The user of a token request: its Basic credentials checked by the gate (limits, audit, metrics apply), or anonymous without any. */
async function requester(gate: AccessGate, request: FastifyRequest): Promise<string | undefined> {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const encoded = basicCredentialsOf(header);
  if (encoded === undefined) throw new RegistryError('UNAUTHORIZED', 'the token endpoint takes HTTP Basic credentials, or none');
  return gate.login(request, encoded);
}

/**
 * porthole's own token realm (docs/auth.md#bearer-tokens): `GET /auth/token?service=&scope=...`
 * with HTTP Basic credentials or none, as docker, containerd, skopeo and podman ask after a Bearer
 * challenge. The answer carries the token twice (`token` for docker's older clients,
 * `access_token` for OAuth2 ones). `account` and `client_id` are accepted and not used: the
 * credentials name the subject.
 */
export async function tokenEndpoint(server: FastifyInstance, gate: AccessGate, issuer: TokenIssuer, service: string): Promise<void> {
  await server.register(async (scope) => {
    // Refusals in the registry's error shape, with their challenge (a 401 for wrong credentials carries the Basic one).
    scope.setErrorHandler((err, request, reply) => writeError(err, request, reply));
    scope.get(TOKEN_PATH, async (request, reply) => {
      const query = queryOf(request);
      const asked = query.get('service');
      if (asked !== service) throw new RegistryError('UNSUPPORTED', `unknown service ${JSON.stringify((asked ?? '').slice(0, 200))}: this realm issues tokens for ${JSON.stringify(service)}`, undefined, { status: 400 });
      const user = await requester(gate, request);
      if (user !== undefined) request.user = user;
      const issued = await issuer.issue(user, grantedAccess(gate.policy, user, parseScopes(query.getAll('scope'))));
      // A token is a credential: no cache may keep it.
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(issued);
    });
  });
}
