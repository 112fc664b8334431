import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grantedAccess } from '../../src/auth/token-endpoint.js';
import { compileAccessControl } from '../../src/auth/access-policy.js';
import { formatScope, Grants, parseScope, parseScopes } from '../../src/auth/token-scope.js';
import { ConfigError, validateConfig } from '../../src/config/load.js';

function problemsOf(config: unknown): string[] {
  try {
    validateConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('token scopes and grants', () => {
  it('parses scopes as docker writes them: names with a port, resource classes, several per parameter', () => {
    assert.deepEqual(parseScope('repository:localhost:5000/team/app:pull,push'), { type: 'repository', name: 'localhost:5000/team/app', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository(plugin):team/app:pull'), { type: 'repository', name: 'team/app', actions: ['pull'] });
    assert.equal(parseScope('repository:team/app'), undefined);
    assert.equal(parseScope('nonsense'), undefined);
    assert.deepEqual(parseScopes(['repository:a:pull registry:catalog:*', 'repository:a:push', '']), [
      { type: 'repository', name: 'a', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.equal(formatScope({ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }), 'repository:a/b:pull,push');
  });

  it('grants the intersection of the request with the policies, and reads grants back', () => {
    const policy = compileAccessControl({ groups: {}, repositories: { 'team/**': { policies: [{ users: ['ci'], groups: [], actions: ['pull', 'push'] }], defaultPolicy: ['pull'], anonymousPolicy: [] } } });
    const asked = parseScopes(['repository:team/app:pull,push,delete', 'repository:other/x:pull', 'registry:catalog:*']);
    assert.deepEqual(grantedAccess(policy, 'ci', asked), [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.deepEqual(grantedAccess(policy, undefined, asked), [], 'nothing for anonymous requests where no anonymousPolicy is');
    const grants = new Grants([...grantedAccess(policy, 'alice', asked), { type: 'repository', name: 'wild', actions: ['*'] }]);
    assert.equal(grants.allows('team/app', 'pull'), true);
    assert.equal(grants.allows('team/app', 'push'), false);
    assert.equal(grants.allows('wild', 'delete'), true, '* grants every action');
    assert.equal(grants.catalog, true);
  });

  it('auth.token: an external issuer needs a realm and takes no signingKey; porthole as issuer needs htpasswd', () => {
    assert.deepEqual(problemsOf({ auth: { token: { rootCertBundle: '/x.pem', signingKey: '/k.pem' } } }), [
      'auth.token.realm: is required with an external issuer (rootCertBundle or jwks): the URL of its token endpoint',
      'auth.token.signingKey: is for tokens porthole issues itself; with rootCertBundle or jwks the tokens come from an external issuer',
    ]);
    assert.deepEqual(problemsOf({ auth: { token: { service: 'r' } } }), ['auth.token: needs auth.htpasswd, the users who log in at /auth/token (or rootCertBundle or jwks, for tokens of an external issuer)']);
    assert.deepEqual(problemsOf({ auth: { token: { realm: 'ftp://x/token', jwks: '/j.json' } } }), ['auth.token.realm: must be an http:// or https:// URL']);
    assert.deepEqual(problemsOf({ auth: { token: { realm: 'https://auth.example/token', jwks: '/j.json' } } }), []);
  });
});
