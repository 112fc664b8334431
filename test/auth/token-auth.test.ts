/**
 * Bearer tokens, the Docker/OCI token flow, against REAL clients, no mocks: skopeo and podman from
 * Debian meet porthole's Bearer challenge, fetch tokens at its own realm (/auth/token) with their
 * credentials, and push and pull with them; the htpasswd file is written by Apache's `htpasswd`,
 * and every key and certificate by `openssl`. Raw HTTP requests look at what clients do not show:
 * the challenge, the claims of the tokens, refusals of bad ones.
 *
 * Two portholes: one that is its own issuer (htpasswd + auth.token with a signingKey made by
 * openssl, so the tests can also sign tokens porthole must refuse: expired, wrong issuer, wrong
 * audience), and one that accepts the tokens of an external issuer (auth.token.rootCertBundle: a
 * CA made by openssl, and the certificate of test/helpers/token-server.ts, a Docker Hub-like token
 * server skopeo gets anonymous pull tokens from).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { seededBytes } from '../fixtures/seeded-bytes.js';
import { createTar } from '../fixtures/tar.js';
import { accessLines, accessLogUntil, type AccessLine } from '../e2e/access-log.js';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { PodmanStore } from '../e2e/podman-store.js';
import { CommandError, runCommand } from '../e2e/run-command.js';
import { parseSkopeoJson, type SkopeoInspect } from '../e2e/skopeo-output.js';
import { assertError, assertStatus, header } from '../helpers/assert-registry.js';
import { basicAuthorization } from '../helpers/basic-auth.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { readJsonLines, type AuditLine } from '../logging/json-lines.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

const TEST_TIMEOUT = 40_000;
const COMMAND_TIMEOUT = 25_000;
const SERVICE = 'porthole-test';
const ISSUER = 'porthole-test-issuer';
const USERS = { ci: 'ci-secret-5e2a', alice: 'alice-secret-77c1', admin: 'admin-secret-0b3d' } as const;
const WRONG_PASSWORD = 'wrong-pass-a41f';

type UserAccessLine = AccessLine & { user?: string };
interface TokenAnswer {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}
interface Claims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: Array<{ type: string; name: string; actions: string[] }>;
}

async function openssl(args: string[]): Promise<void> {
  await runCommand('openssl', args, { timeoutMs: 20_000 });
}

/** An EC P-256 key (PEM, SEC1) made by openssl. */
async function ecKey(file: string): Promise<KeyObject> {
  await openssl(['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', file]);
  return createPrivateKey(await readFile(file));
}

/** A CA made by openssl, and a token-signing certificate it issued: the key, and the x5c chain (leaf only) a token carries. */
async function issuerChain(dir: string, name: string): Promise<{ caFile: string; key: KeyObject; x5c: string[] }> {
  const [caKey, caFile, key, csr, certificate] = ['ca.key', 'ca.crt', 'signer.key', 'signer.csr', 'signer.crt'].map((file) => join(dir, `${name}-${file}`)) as [string, string, string, string, string];
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-subj', `/CN=${name} CA`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name} token signer`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certificate, '-days', '2']);
  return { caFile, key: createPrivateKey(await readFile(key)), x5c: [new X509Certificate(await readFile(certificate)).raw.toString('base64')] };
}

/** A token as an issuer signs it; `claims` override the defaults (valid for 5 minutes, for `service` from `issuer`). */
async function mint(key: KeyObject, access: Claims['access'], options: { issuer?: string; audience?: string; exp?: number; x5c?: string[]; sub?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const alg = key.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256';
  return new SignJWT({ access })
    .setProtectedHeader({ alg, typ: 'JWT', ...(options.x5c ? { x5c: options.x5c } : {}) })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? SERVICE)
    .setSubject(options.sub ?? 'minted')
    .setIssuedAt(now)
    .setNotBefore(now - 5)
    .setExpirationTime(options.exp ?? now + 300)
    .sign(key);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const repositoryAccess = (name: string, ...actions: string[]) => [{ type: 'repository', name, actions }];

describe('bearer tokens: porthole as its own issuer, and an external issuer', { skip: skipUnlessTools('skopeo', 'podman', 'htpasswd', 'openssl'), timeout: 150_000 }, () => {
  let work: string;
  let porthole: PortholeProcess;
  let external: PortholeProcess;
  let tokenServer: TokenServer;
  let sandbox: ContainersSandbox;
  let image: LayoutDescription;
  let auditLog: string;
  let signingKey: KeyObject;
  let externalSigner: { key: KeyObject; x5c: string[] };
  let foreignSigner: { key: KeyObject; x5c: string[] };
  /** Every token the tests saw: none may reach a log. */
  const seenTokens: string[] = [];

  const ref = (target: PortholeProcess, repository: string, tag = '1') => `docker://${target.host}/${repository}:${tag}`;
  const source = () => `oci:${image.dir}:${image.tag}`;
  const realm = () => `${porthole.url}/auth/token`;
  const logged = () => accessLines(porthole.output()) as UserAccessLine[];
  const audit = () => readJsonLines<AuditLine>(auditLog).catch((): AuditLine[] => []);

  /** porthole_auth_attempts_total{method, outcome} of the own-issuer porthole. */
  async function attempts(method: string, outcome: string): Promise<number> {
    const metrics = (await raw(porthole.url, { path: '/metrics' })).body.toString('utf8');
    const line = new RegExp(`^porthole_auth_attempts_total\\{method="${method}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics);
    return Number(line?.[1] ?? 0);
  }

  async function tokenFor(query: string, authorization?: string): Promise<RawResponse> {
    return raw(porthole.url, { path: `/auth/token?${query}`, headers: authorization ? { authorization } : {} });
  }
  async function tokenOf(query: string, authorization?: string): Promise<{ answer: TokenAnswer; claims: Claims }> {
    const response = await tokenFor(query, authorization);
    assertStatus(response, 200);
    const answer = JSON.parse(response.body.toString('utf8')) as TokenAnswer;
    seenTokens.push(answer.token);
    return { answer, claims: decodeJwt(answer.token) as unknown as Claims };
  }

  before(async () => {
    work = await tempDir('auth-token');
    const passwords = join(work, 'htpasswd');
    auditLog = join(work, 'audit.log');
    await addHtpasswdUsers(passwords, { ci: USERS.ci, alice: USERS.alice, admin: USERS.admin }, { create: true });
    const signingKeyFile = join(work, 'porthole-signing.key');
    [signingKey, externalSigner, foreignSigner, tokenServer] = await Promise.all([
      ecKey(signingKeyFile),
      issuerChain(work, 'external'),
      issuerChain(work, 'foreign'),
      startTokenServer(work),
    ]);
    // The external porthole trusts the openssl CA and the token server's own certificate.
    const bundle = join(work, 'bundle.pem');
    await writeFile(bundle, (await readFile(join(work, 'external-ca.crt'), 'utf8')) + (await readFile(tokenServer.certificateFile, 'utf8')));
    const ownConfig = [
      'auth:',
      `  htpasswd: {path: ${JSON.stringify(passwords)}}`,
      '  failedLogins: {limit: 1000, userLimit: 1000}',
      `  token: {service: ${SERVICE}, issuer: ${ISSUER}, expiry: 5m, signingKey: ${JSON.stringify(signingKeyFile)}}`,
      'log:',
      `  audit: ${JSON.stringify(auditLog)}`,
      // Full mode: /metrics answers Prometheus text, where the attempts are counted.
      'extensions:',
      '  metrics: {enable: true}',
      'accessControl:',
      '  repositories:',
      '    "team/**": {policies: [{users: [ci], actions: [pull, push]}], defaultPolicy: [pull]}',
      '    "public/**": {anonymousPolicy: [pull]}',
      '  adminPolicy: {users: [admin], actions: [pull, push, delete]}',
      '',
    ].join('\n');
    // The token server's service and issuer: the external porthole is its audience.
    const externalConfig = [
      'auth:',
      `  token: {realm: ${JSON.stringify(tokenServer.realm)}, service: ${tokenServer.service}, issuer: ${tokenServer.issuer}, rootCertBundle: ${JSON.stringify(bundle)}}`,
      '',
    ].join('\n');
    [porthole, external, sandbox, image] = await Promise.all([
      startPorthole({ config: ownConfig }),
      startPorthole({ config: externalConfig }),
      ContainersSandbox.create(),
      buildOciLayout({ dir: join(work, 'image'), tag: 'v1', seed: 'auth-token', layers: 1, filesPerLayer: 1, fileBytes: 8 * 1024 }),
    ]);
  });

  after(async () => {
    await porthole?.stop();
    await external?.stop();
    await tokenServer?.close();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root, external?.root].filter((dir): dir is string => dir !== undefined));
  });

  test('skopeo copy --dest-creds and inspect --creds do the token dance and succeed', { timeout: TEST_TIMEOUT }, async () => {
    await sandbox.skopeo(['copy', '--quiet', '--dest-creds', `ci:${USERS.ci}`, '--dest-tls-verify=false', source(), ref(porthole, 'team/app')], COMMAND_TIMEOUT);
    const inspected = await sandbox.skopeo(['inspect', '--creds', `alice:${USERS.alice}`, '--tls-verify=false', ref(porthole, 'team/app')], COMMAND_TIMEOUT);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);

    const lines = (await accessLogUntil(porthole.output, (line) => line.method === 'GET' && line.path === '/v2/team/app/manifests/1' && line.status === 200)) as UserAccessLine[];
    const tokenRequests = lines.filter((line) => line.path === '/auth/token' && line.status === 200);
    assert.ok(tokenRequests.some((line) => line.user === 'ci' && /scope=repository%3Ateam%2Fapp%3Apull%2Cpush|scope=repository:team\/app:pull,push/.test(line.query ?? '')), `skopeo asked for a push token as ci: ${JSON.stringify(tokenRequests)}`);
    assert.ok(tokenRequests.some((line) => line.user === 'alice'), 'and for a pull token as alice');
    const put = lines.find((line) => line.method === 'PUT' && line.path === '/v2/team/app/manifests/1');
    assert.equal(put?.status, 201);
    assert.equal(put?.user, 'ci', 'the manifest PUT was made with ci\'s token');
    // The /v2 requests were authenticated by tokens, not by Basic credentials.
    const bearerSuccesses = await attempts('bearer', 'success');
    const basicSuccesses = await attempts('basic', 'success');
    const v2ByUsers = lines.filter((line) => line.path.startsWith('/v2/team/') && line.user !== undefined && line.user !== 'anonymous').length;
    assert.ok(bearerSuccesses >= v2ByUsers && v2ByUsers > 0, `bearer successes ${bearerSuccesses} for ${v2ByUsers} /v2 requests by users`);
    // Every Basic login was a token request (whose access lines may still be on their way).
    const userTokenRequests = () => logged().filter((line) => line.path === '/auth/token' && line.status === 200 && line.user !== undefined && line.user !== 'anonymous').length;
    await waitFor(`${basicSuccesses} Basic logins, all at the token endpoint`, () => userTokenRequests() >= basicSuccesses, 5_000);
  });

  test('podman login, push and pull through the token realm', { timeout: 60_000 }, async () => {
    const authfile = join(work, 'podman-auth.json');
    const reference = `${porthole.host}/team/podman:1`;
    const store = await PodmanStore.create(sandbox);
    let imageId: string;
    try {
      const login = (password: string) => store.podman(['login', '--username', 'ci', '--password-stdin', '--tls-verify=false', '--authfile', authfile, porthole.host], COMMAND_TIMEOUT, `${password}\n`);
      await assert.rejects(login(WRONG_PASSWORD), CommandError, 'podman login with a wrong password fails at the realm');
      assert.match((await login(USERS.ci)).stdout, /Login Succeeded/);
      const tarFile = join(work, 'podman.tar');
      await writeFile(tarFile, createTar([{ path: 'data', type: 'directory' }, { path: 'data/token.bin', type: 'file', content: seededBytes('auth-token-podman', 32 * 1024) }]));
      await store.podman(['import', '--quiet', tarFile, reference], COMMAND_TIMEOUT);
      imageId = (JSON.parse((await store.podman(['image', 'inspect', reference], COMMAND_TIMEOUT)).stdout) as Array<{ Id: string }>)[0]?.Id ?? '';
      await store.podman(['push', '--quiet', '--tls-verify=false', '--authfile', authfile, reference], COMMAND_TIMEOUT);
    } finally {
      await store.dispose();
    }
    const fresh = await PodmanStore.create(sandbox);
    try {
      const pulled = await fresh.podman(['pull', '--quiet', '--tls-verify=false', '--authfile', authfile, reference], COMMAND_TIMEOUT);
      assert.equal(pulled.stdout.trim(), imageId);
    } finally {
      await fresh.dispose();
    }
    const put = logged().find((line) => line.method === 'PUT' && line.path === '/v2/team/podman/manifests/1');
    assert.equal(put?.user, 'ci');
  });

  test('the token endpoint grants only what the policies allow, as claims distribution reads', { timeout: TEST_TIMEOUT }, async () => {
    const asAlice = basicAuthorization('alice', USERS.alice);
    // Several scope parameters, one of them with two scopes; alice may only pull team/**.
    const { answer, claims } = await tokenOf(`service=${SERVICE}&account=alice&scope=repository:team/app:pull,push,delete&scope=${encodeURIComponent('repository:public/x:pull,push registry:catalog:*')}&scope=repository:elsewhere/x:pull`, asAlice);
    assert.equal(answer.access_token, answer.token);
    assert.equal(answer.expires_in, 300);
    assert.ok(Math.abs(Date.parse(answer.issued_at) - Date.now()) < 10_000, `issued_at ${answer.issued_at}`);
    assert.deepEqual(claims.access, [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
      { type: 'repository', name: 'public/x', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, SERVICE);
    assert.equal(claims.exp - claims.iat, 300);
    assert.ok(claims.nbf <= claims.iat && typeof claims.jti === 'string' && claims.jti.length >= 16);
    const jwtHeader = decodeProtectedHeader(answer.token);
    assert.equal(jwtHeader.alg, 'ES256');
    assert.equal(typeof jwtHeader.kid, 'string');

    // ci may push team/**; admin may do everything.
    assert.deepEqual((await tokenOf(`service=${SERVICE}&scope=repository:team/app:pull,push,delete`, basicAuthorization('ci', USERS.ci))).claims.access, repositoryAccess('team/app', 'pull', 'push'));
    assert.deepEqual((await tokenOf(`service=${SERVICE}&scope=repository:team/app:*`, basicAuthorization('admin', USERS.admin))).claims.access, repositoryAccess('team/app', 'pull', 'push', 'delete'));

    // Anonymous: a token for public pulls, nothing on team/**.
    const anonymous = await tokenOf(`service=${SERVICE}&scope=repository:public/base:pull,push&scope=repository:team/app:pull`);
    assert.equal(anonymous.claims.sub, '');
    assert.deepEqual(anonymous.claims.access, repositoryAccess('public/base', 'pull'));

    const wrong = await tokenFor(`service=${SERVICE}&scope=repository:team/app:pull`, basicAuthorization('alice', WRONG_PASSWORD));
    assertError(wrong, 401, 'UNAUTHORIZED');
    assert.equal(header(wrong, 'www-authenticate'), 'Basic realm="porthole", charset="UTF-8"');
    assertError(await tokenFor(`service=someone-else&scope=repository:team/app:pull`, asAlice), 400, 'UNSUPPORTED');
    assertError(await tokenFor('scope=repository:team/app:pull', asAlice), 400, 'UNSUPPORTED');
    // POST (OAuth2) is not served: 404, on which containerd falls back to GET.
    assert.equal((await raw(porthole.url, { method: 'POST', path: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=password&service=${SERVICE}` })).status, 404);
    await waitFor('the audited wrong password at the realm', async () => (await audit()).some((line) => line.action === 'auth.login' && line.outcome === 'failure' && line.subject === 'alice'), 5_000);
  });

  test('/v2 challenges for a token with realm, service and scope; refuses bad, expired and foreign tokens', { timeout: TEST_TIMEOUT }, async () => {
    const ping = await raw(porthole.url, { path: '/v2/' });
    assertError(ping, 401, 'UNAUTHORIZED');
    assert.equal(header(ping, 'www-authenticate'), `Bearer realm="${realm()}",service="${SERVICE}"`);
    const pull = await raw(porthole.url, { path: '/v2/team/app/manifests/1' });
    assertError(pull, 401, 'UNAUTHORIZED');
    assert.equal(header(pull, 'www-authenticate'), `Bearer realm="${realm()}",service="${SERVICE}",scope="repository:team/app:pull"`);
    const push = await raw(porthole.url, { method: 'POST', path: '/v2/team/new/blobs/uploads/', headers: { 'content-length': 0 } });
    assert.equal(header(push, 'www-authenticate'), `Bearer realm="${realm()}",service="${SERVICE}",scope="repository:team/new:pull,push"`);
    // Public repositories need no token.
    assert.notEqual((await raw(porthole.url, { path: '/v2/public/none/tags/list' })).status, 401);

    const { answer } = await tokenOf(`service=${SERVICE}&scope=repository:team/app:pull`, basicAuthorization('alice', USERS.alice));
    assertStatus(await raw(porthole.url, { path: '/v2/', headers: bearer(answer.token) }), 200);
    const manifest = await raw(porthole.url, { path: '/v2/team/app/manifests/1', headers: { ...bearer(answer.token), accept: image.root.mediaType } });
    assertStatus(manifest, 200);
    assert.equal(header(manifest, 'docker-content-digest'), image.root.digest);
    // The token lacks push: 401 insufficient_scope with the scope needed, so that clients fetch another.
    const refusedPush = await raw(porthole.url, { method: 'POST', path: '/v2/team/app/blobs/uploads/', headers: { 'content-length': 0, ...bearer(answer.token) } });
    assertError(refusedPush, 401, 'UNAUTHORIZED');
    assert.equal(header(refusedPush, 'www-authenticate'), `Bearer realm="${realm()}",service="${SERVICE}",scope="repository:team/app:pull,push",error="insufficient_scope"`);
    // A token for another repository does not open this one.
    const other = await tokenOf(`service=${SERVICE}&scope=repository:team/other:pull`, basicAuthorization('alice', USERS.alice));
    const refusedPull = await raw(porthole.url, { path: '/v2/team/app/manifests/1', headers: bearer(other.answer.token) });
    assertError(refusedPull, 401, 'UNAUTHORIZED');
    assert.match(header(refusedPull, 'www-authenticate') ?? '', /scope="repository:team\/app:pull",error="insufficient_scope"$/);
    // The catalog needs the catalog grant, and lists what alice may pull.
    const noCatalog = await raw(porthole.url, { path: '/v2/_catalog', headers: bearer(answer.token) });
    assert.match(header(noCatalog, 'www-authenticate') ?? '', /scope="registry:catalog:\*",error="insufficient_scope"$/);
    const catalogToken = (await tokenOf(`service=${SERVICE}&scope=registry:catalog:*`, basicAuthorization('alice', USERS.alice))).answer.token;
    const catalog = await raw(porthole.url, { path: '/v2/_catalog', headers: bearer(catalogToken) });
    assertStatus(catalog, 200);
    assert.ok((JSON.parse(catalog.body.toString('utf8')) as { repositories: string[] }).repositories.includes('team/app'));

    // Tokens signed with porthole's own key but wrong in a claim, and one signed by another key.
    const now = Math.floor(Date.now() / 1000);
    const grant = repositoryAccess('team/app', 'pull');
    const bad = {
      expired: await mint(signingKey, grant, { exp: now - 120 }),
      'wrong issuer': await mint(signingKey, grant, { issuer: 'someone-else' }),
      'wrong audience': await mint(signingKey, grant, { audience: 'another-registry' }),
      'another key': await mint(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, grant),
      'not a JWT': 'not-a-token',
    };
    for (const [what, token] of Object.entries(bad)) {
      seenTokens.push(token);
      const refused = await raw(porthole.url, { path: '/v2/team/app/manifests/1', headers: bearer(token) });
      assertError(refused, 401, 'UNAUTHORIZED');
      assert.equal(header(refused, 'www-authenticate'), `Bearer realm="${realm()}",service="${SERVICE}",scope="repository:team/app:pull",error="invalid_token"`, what);
    }
    // A token porthole's key signed with good claims is accepted: the key file is what replicas share.
    assertStatus(await raw(porthole.url, { path: '/v2/team/app/tags/list', headers: bearer(await mint(signingKey, grant)) }), 200);
    await waitFor('the audited invalid tokens', async () => (await audit()).filter((line) => line.action === 'auth.login' && String(line.detail).startsWith('invalid bearer token')).length >= 5, 5_000);
    assert.ok((await attempts('bearer', 'failure')) >= 5, 'the refused tokens are counted');
  });

  test('an external issuer: tokens signed under the root bundle are accepted (skopeo too), others refused', { timeout: TEST_TIMEOUT }, async () => {
    const grant = (name: string, ...actions: string[]) => mint(externalSigner.key, repositoryAccess(name, ...actions), { issuer: tokenServer.issuer, audience: tokenServer.service, x5c: externalSigner.x5c, sub: 'builder' });
    const pushToken = await grant('ext/app', 'pull', 'push');
    seenTokens.push(pushToken);
    // skopeo with a token given on the command line; the issuer's claim is the authority.
    await sandbox.skopeo(['copy', '--quiet', '--dest-registry-token', pushToken, '--dest-tls-verify=false', source(), ref(external, 'ext/app')], COMMAND_TIMEOUT);
    // skopeo, anonymous, fetches a pull token from the external realm (the token server) itself.
    const inspected = await sandbox.skopeo(['inspect', '--tls-verify=false', ref(external, 'ext/app')], COMMAND_TIMEOUT);
    assert.equal(parseSkopeoJson<SkopeoInspect>(inspected.stdout).Digest, image.root.digest);
    assert.ok((tokenServer.issued.get('repository:ext/app:pull') ?? 0) > 0, 'skopeo got its token from the external realm');
    const put = (accessLines(external.output()) as UserAccessLine[]).find((line) => line.method === 'PUT' && line.path === '/v2/ext/app/manifests/1');
    assert.equal(put?.user, 'builder', 'the token\'s subject is the user');

    const challenge = await raw(external.url, { path: '/v2/ext/app/manifests/1' });
    assert.equal(header(challenge, 'www-authenticate'), `Bearer realm="${tokenServer.realm}",service="${tokenServer.service}",scope="repository:ext/app:pull"`);
    // Signed by a certificate of another CA, or by a key that is not the certificate's: refused.
    const foreign = await mint(foreignSigner.key, repositoryAccess('ext/app', 'pull'), { issuer: tokenServer.issuer, audience: tokenServer.service, x5c: foreignSigner.x5c });
    const mismatched = await mint(foreignSigner.key, repositoryAccess('ext/app', 'pull'), { issuer: tokenServer.issuer, audience: tokenServer.service, x5c: externalSigner.x5c });
    const noChain = await mint(externalSigner.key, repositoryAccess('ext/app', 'pull'), { issuer: tokenServer.issuer, audience: tokenServer.service });
    for (const token of [foreign, mismatched, noChain]) {
      seenTokens.push(token);
      const refused = await raw(external.url, { path: '/v2/ext/app/manifests/1', headers: bearer(token) });
      assertError(refused, 401, 'UNAUTHORIZED');
      assert.match(header(refused, 'www-authenticate') ?? '', /error="invalid_token"$/);
    }
    // A good token without the action: insufficient_scope.
    const pullOnly = await grant('ext/app', 'pull');
    const refused = await raw(external.url, { method: 'DELETE', path: `/v2/ext/app/manifests/${image.root.digest}`, headers: bearer(pullOnly) });
    assertError(refused, 401, 'UNAUTHORIZED');
    assert.match(header(refused, 'www-authenticate') ?? '', /scope="repository:ext\/app:delete",error="insufficient_scope"$/);
  });

  test('no token and no password reaches the output or the audit log', { timeout: TEST_TIMEOUT }, async () => {
    const secrets = [...Object.values(USERS), WRONG_PASSWORD, ...Object.entries(USERS).map(([user, password]) => Buffer.from(`${user}:${password}`).toString('base64'))];
    const texts = { output: porthole.output(), 'external output': external.output(), audit: await readFile(auditLog, 'utf8') };
    for (const [where, text] of Object.entries(texts)) {
      for (const secret of [...secrets, ...seenTokens]) assert.equal(text.includes(secret), false, `${where} holds ${secret.slice(0, 20)}...`);
      // Nor any token a client fetched itself: nothing shaped like a JWT.
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\.eyJ/, `${where} holds a JWT`);
    }
    assert.ok(seenTokens.length > 10);
  });
});
