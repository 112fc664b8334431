import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import type { TokenConfig } from '../config/auth-schema.js';
import { durationMs } from '../config/durations.js';
import { externalKeys, loadSigningKey, type SigningKey } from './token-keys.js';
import { accessClaim, Grants, type AccessEntry } from './token-scope.js';

/** Clock skew tolerated on exp and nbf, between porthole and an issuer (and between replicas). */
const LEEWAY_SECONDS = 30;

/** Verified tokens remembered at most; past it the expired ones are swept, and if that is not enough, all. */
const MAX_REMEMBERED = 10_000;

/** A verified token: who it names (undefined: an anonymous token, `sub` empty) and what it grants. */
export interface VerifiedToken {
  subject: string | undefined;
  grants: Grants;
  /** When porthole stops accepting it (exp plus the leeway), in ms since the epoch. */
  until: number;
}

/**
 * Checks bearer tokens: the signature (porthole's own key, or an external issuer's), `iss`, `aud`
 * (the service), `exp` and `nbf` with a small leeway. A client sends its token with every request,
 * so a verified token is remembered by its SHA-256 until it expires: the signature is checked once
 * per token, not per blob. Nothing remembered outlives the token.
 */
export class TokenVerifier {
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(
    private readonly key: KeyObject | JWTVerifyGetKey,
    private readonly issuer: string,
    private readonly audience: string,
  ) {}

  /** The token's subject and grants; throws with the reason when it is not to be accepted. */
  async verify(token: string, now = Date.now()): Promise<VerifiedToken> {
    const digest = createHash('sha256').update(token).digest('base64');
    const known = this.verified.get(digest);
    if (known !== undefined && known.until > now) return known;
    const options = { issuer: this.issuer, audience: this.audience, clockTolerance: LEEWAY_SECONDS, requiredClaims: ['exp'], currentDate: new Date(now) };
    // Two calls rather than one with a union: jose types the key and the key function apart.
    const { payload } = typeof this.key === 'function' ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options);
    const subject = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
    const result: VerifiedToken = { subject, grants: new Grants(accessClaim(payload.access)), until: ((payload.exp ?? 0) + LEEWAY_SECONDS) * 1000 };
    this.remember(digest, result, now);
    return result;
  }

  private remember(digest: string, token: VerifiedToken, now: number): void {
    if (this.verified.size >= MAX_REMEMBERED) {
      for (const [key, entry] of this.verified) if (entry.until <= now) this.verified.delete(key);
      if (this.verified.size >= MAX_REMEMBERED) this.verified.clear();
    }
    this.verified.set(digest, token);
  }
}

/** What the token endpoint answers (the fields docker, containerd and containers/image read). */
export interface IssuedToken {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

/** Signs porthole's own tokens (its realm, /auth/token), with the claims distribution's token servers write. */
export class TokenIssuer {
  constructor(
    private readonly key: SigningKey,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly expirySeconds: number,
  ) {}

  async issue(subject: string | undefined, access: AccessEntry[], now = Date.now()): Promise<IssuedToken> {
    const issuedAt = Math.floor(now / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: this.key.alg, typ: 'JWT', kid: this.key.kid })
      .setIssuer(this.issuer)
      .setSubject(subject ?? '')
      .setAudience(this.audience)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(issuedAt + this.expirySeconds)
      .setJti(randomBytes(16).toString('hex'))
      .sign(this.key.privateKey);
    return { token, access_token: token, expires_in: this.expirySeconds, issued_at: new Date(issuedAt * 1000).toISOString() };
  }
}

/**
 * The token side of auth.token: with porthole as issuer, the issuer and a verifier of its own
 * key; with an external issuer, a verifier of its keys only.
 */
export interface TokenAuth {
  verifier: TokenVerifier;
  issuer?: TokenIssuer;
  /** The configured realm; absent: porthole's own /auth/token on the request's host. */
  realm?: string;
  service: string;
}

export function createTokenAuth(config: TokenConfig): TokenAuth {
  const external = config.rootCertBundle !== undefined || config.jwks !== undefined;
  const base = { service: config.service, ...(config.realm !== undefined ? { realm: config.realm } : {}) };
  if (external) return { ...base, verifier: new TokenVerifier(externalKeys(config), config.issuer, config.service) };
  const key = loadSigningKey(config.signingKey);
  return {
    ...base,
    verifier: new TokenVerifier(key.publicKey, config.issuer, config.service),
    issuer: new TokenIssuer(key, config.issuer, config.service, Math.max(1, Math.round(durationMs(config.expiry) / 1000))),
  };
}
