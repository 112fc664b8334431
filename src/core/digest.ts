import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.js';

/** The algorithms porthole verifies, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  /** `algorithm:hex`, the canonical string form. */
  readonly value: string;
}

const DIGEST_SHAPE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export function isDigestAlgorithm(name: string): name is DigestAlgorithm {
  return Object.hasOwn(DIGEST_ALGORITHMS, name);
}

/** Parses a digest string, or returns undefined when it is not a supported, well-formed digest. */
export function tryParseDigest(text: string): Digest | undefined {
  const match = DIGEST_SHAPE.exec(text);
  if (!match) return undefined;
  const algorithm = match[1] as string;
  const hex = match[2] as string;
  if (!isDigestAlgorithm(algorithm)) return undefined;
  if (hex.length !== DIGEST_ALGORITHMS[algorithm] || !/^[a-f0-9]+$/.test(hex)) return undefined;
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

export function parseDigest(text: string): Digest {
  const digest = tryParseDigest(text);
  if (!digest) {
    throw new RegistryError('DIGEST_INVALID', `invalid digest "${truncate(text)}": expected sha256:<64 hex> or sha512:<128 hex>`, {
      digest: truncate(text),
    });
  }
  return digest;
}

export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  const hex = createHash(algorithm).update(data).digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
