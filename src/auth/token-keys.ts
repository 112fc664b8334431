import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { asConfigError } from '../config/configured-file.js';
import { pemCertificateBlocks } from '../runtime/pem.js';

/** The key porthole signs its own tokens with, its algorithm, and the key id written into each token's header. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: 'ES256' | 'ES384' | 'RS256' | 'EdDSA';
  kid: string;
}

function algorithmOf(key: KeyObject): SigningKey['alg'] {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type === 'ec' && curve === 'prime256v1') return 'ES256';
  if (type === 'ec' && curve === 'secp384r1') return 'ES384';
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  throw new Error(`a ${type}${curve ? ` ${curve}` : ''} key cannot sign tokens: use an EC P-256 (openssl ecparam -genkey -name prime256v1 -noout) or RSA key`);
}

/**
 * The signing key of auth.token.signingKey (a PEM private key file, shared by replicas so that
 * each accepts the others' tokens), or, without one, a P-256 key made now: tokens then last only
 * as long as this process. The key id is a digest of the public key, so replicas with one key
 * write the same kid.
 */
export function loadSigningKey(path: string | undefined, key = 'auth.token.signingKey'): SigningKey {
  const privateKey =
    path === undefined ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : asConfigError(key, path, () => createPrivateKey(readFileSync(path)));
  const alg = path === undefined ? 'ES256' : asConfigError(key, path, () => algorithmOf(privateKey));
  const publicKey = createPublicKey(privateKey);
  const kid = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 22);
  return { privateKey, publicKey, alg, kid };
}

/** The certificates of a PEM bundle. */
function certificatesOf(pem: string, path: string): X509Certificate[] {
  const blocks = pemCertificateBlocks(pem);
  if (blocks.length === 0) throw new Error(`${path} holds no PEM certificate`);
  return blocks.map((block) => new X509Certificate(block));
}

/** Longest x5c chain looked at: a bound on the work an unverified header can ask for. */
const MAX_CHAIN = 5;

function checkValidity(certificate: X509Certificate, now: number): void {
  if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) < now) throw new Error(`the certificate ${certificate.subject.replace(/\n/g, ', ')} of the token's x5c chain is not valid now`);
}

/**
 * The public key of a token's signer, from the x5c chain of its header (leaf first), which must
 * lead to a certificate of the bundle: each certificate issued and signed by the next, the last one
 * either in the bundle or signed by a CA of it, all valid now. What distribution's auth.token
 * does with its rootcertbundle; a token without x5c is refused.
 */
export function chainKey(x5c: unknown, roots: readonly X509Certificate[], now = Date.now()): KeyObject {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN || !x5c.every((entry) => typeof entry === 'string')) {
    throw new Error('the token header carries no usable x5c certificate chain');
  }
  const chain = x5c.map((der: string) => new X509Certificate(Buffer.from(der, 'base64')));
  chain.forEach((certificate) => checkValidity(certificate, now));
  for (let index = 0; index + 1 < chain.length; index += 1) {
    const [certificate, issuer] = [chain[index] as X509Certificate, chain[index + 1] as X509Certificate];
    if (!issuer.ca || !certificate.checkIssued(issuer) || !certificate.verify(issuer.publicKey)) throw new Error('the x5c chain of the token is broken');
  }
  const top = chain[chain.length - 1] as X509Certificate;
  const trusted = roots.some((root) => root.raw.equals(top.raw) || (root.ca && top.checkIssued(root) && top.verify(root.publicKey)));
  if (!trusted) throw new Error('the x5c chain of the token leads to no certificate of auth.token.rootCertBundle');
  return (chain[0] as X509Certificate).publicKey;
}

/** How tokens of an external issuer are verified: the signer's key from the x5c chain (rootCertBundle) or from a JWKS file by kid. */
export function externalKeys(token: { rootCertBundle?: string | undefined; jwks?: string | undefined }): JWTVerifyGetKey {
  if (token.jwks !== undefined) {
    const path = token.jwks;
    const set = asConfigError('auth.token.jwks', path, () => {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as JSONWebKeySet;
      if (!Array.isArray(parsed.keys)) throw new Error(`${path} is not a JSON Web Key Set ({"keys": [...]})`);
      return createLocalJWKSet(parsed);
    });
    if (token.rootCertBundle === undefined) return set;
    // Both: a token with x5c is checked against the bundle, one without against the key set.
    const bundle = loadBundle(token.rootCertBundle);
    return (header, jwt) => (header.x5c !== undefined ? chainKey(header.x5c, bundle) : set(header, jwt));
  }
  if (token.rootCertBundle === undefined) throw new Error('externalKeys needs auth.token.rootCertBundle or auth.token.jwks');
  const bundle = loadBundle(token.rootCertBundle);
  return (header) => chainKey(header.x5c, bundle);
}

function loadBundle(path: string): X509Certificate[] {
  return asConfigError('auth.token.rootCertBundle', path, () => certificatesOf(readFileSync(path, 'utf8'), path));
}

/** What `porthole verify` checks of auth.token's files: that they can be read and used. */
export function checkTokenKeys(token: { signingKey?: string | undefined; rootCertBundle?: string | undefined; jwks?: string | undefined }): void {
  if (token.signingKey !== undefined) loadSigningKey(token.signingKey);
  if (token.rootCertBundle !== undefined || token.jwks !== undefined) externalKeys(token);
}
