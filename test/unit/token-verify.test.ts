import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import { externalKeys } from '../../src/auth/token-keys.js';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { ConfigError } from '../../src/config/load.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

const dirs: string[] = [];
after(() => cleanup(...dirs));

function sign(key: ReturnType<typeof generateKeyPairSync>['privateKey'], kid: string, exp: number): Promise<string> {
  return new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer('issuer')
    .setAudience('service')
    .setSubject('ci')
    .setExpirationTime(exp)
    .sign(key);
}

describe('verifying tokens of an external issuer by JWKS', () => {
  it('accepts a token whose kid names a key of the set, refuses others; a verified token is remembered until it expires', async () => {
    const dir = await tempDir('token-jwks');
    dirs.push(dir);
    const known = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const unknown = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = join(dir, 'jwks.json');
    await writeFile(file, JSON.stringify({ keys: [{ ...(await exportJWK(known.publicKey)), kid: 'k1', alg: 'ES256' }] }));
    const verifier = new TokenVerifier(externalKeys({ jwks: file }), 'issuer', 'service');
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(known.privateKey, 'k1', now + 60);
    const verified = await verifier.verify(token);
    assert.equal(verified.subject, 'ci');
    assert.equal(verified.grants.allows('team/app', 'pull'), true);
    assert.equal(await verifier.verify(token), verified, 'the second check is the remembered one');
    await assert.rejects(verifier.verify(token, (now + 120) * 1000), /exp/, 'not past its expiry (and the leeway)');
    await assert.rejects(verifier.verify(await sign(unknown.privateKey, 'k1', now + 60)), /signature/);
    await assert.rejects(verifier.verify(await sign(known.privateKey, 'k2', now + 60)), /no applicable key|matching/i);
  });

  it('a file that is not a key set is a config error naming auth.token.jwks', async () => {
    const dir = await tempDir('token-jwks-bad');
    dirs.push(dir);
    const file = join(dir, 'jwks.json');
    await writeFile(file, '{"nokeys": 1}');
    assert.throws(() => externalKeys({ jwks: file }), (err: unknown) => err instanceof ConfigError && err.problems[0]?.startsWith('auth.token.jwks: ') === true);
    assert.throws(() => externalKeys({ rootCertBundle: join(dir, 'missing.pem') }), (err: unknown) => err instanceof ConfigError && /auth\.token\.rootCertBundle: .*does not exist/.test(err.problems[0] ?? ''));
  });
});
