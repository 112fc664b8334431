import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { basicAuthorization } from './basic-auth.js';

/**
 * A token endpoint that answers the way Docker Hub's (auth.docker.io/token) does: GET
 * ?service=&scope=repository:<name>:pull, optional basic credentials, a JSON answer with `token`,
 * `access_token`, `expires_in` and `issued_at`. Docker Hub itself cannot be reached from these
 * machines. Its tokens are real: RS256 JWTs with the signing certificate in `x5c`, which a real
 * docker-registry configured with `auth.token` (and this certificate as its root bundle) verifies.
 */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the signing certificate, for docker-registry's auth.token.rootcertbundle. */
  certificateFile: string;
  /** Token requests answered so far, by scope. */
  issued: Map<string, number>;
  close(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A self-signed signing certificate, made with openssl (node:crypto cannot make certificates). */
function makeCertificate(dir: string): { keyFile: string; certificateFile: string } {
  const keyFile = join(dir, 'token-signing.key');
  const certificateFile = join(dir, 'token-signing.crt');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certificateFile, '-subj', '/CN=porthole-test-token-issuer', '-days', '2'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr || made.error?.message}`);
  return { keyFile, certificateFile };
}

export async function startTokenServer(dir: string, credentials?: { username: string; password: string }, lifetimeSeconds = 300): Promise<TokenServer> {
  const { keyFile, certificateFile } = makeCertificate(dir);
  const key = createPrivateKey(readFileSync(keyFile));
  const certificate = new X509Certificate(readFileSync(certificateFile));
  const service = 'porthole-test-registry';
  const issuer = 'porthole-test-token-issuer';
  const issued = new Map<string, number>();
  const expectedAuthorization = credentials ? basicAuthorization(credentials.username, credentials.password) : undefined;

  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://token.local');
    if (url.pathname !== '/token' || url.searchParams.get('service') !== service) {
      response.writeHead(404).end();
      return;
    }
    if (expectedAuthorization !== undefined && request.headers.authorization !== expectedAuthorization) {
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    const scope = url.searchParams.get('scope') ?? '';
    issued.set(scope, (issued.get(scope) ?? 0) + 1);
    const [type, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certificate.raw.toString('base64')] };
    const claims = {
      iss: issuer,
      sub: credentials?.username ?? '',
      aud: service,
      exp: now + lifetimeSeconds,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access: type && name ? [{ type, name, actions: (actions ?? '').split(',').filter((action) => action === 'pull') }] : [],
    };
    const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const token = `${unsigned}.${base64url(sign('sha256', Buffer.from(unsigned), key))}`;
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: lifetimeSeconds, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the token server has no port');
  return {
    realm: `http://127.0.0.1:${address.port}/token`,
    service,
    issuer,
    certificateFile,
    issued,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
