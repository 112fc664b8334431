import { parseDigest, tryParseDigest, type Digest } from './digest.js';
import { assertValidTag, isValidTag } from './names.js';

/** A manifest reference from a URL: either a tag or a digest, never anything else. */
export type ManifestReference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/** A reference to store under (PUT): a malformed one is the client's 400. */
export function parseManifestReference(text: string): ManifestReference {
  if (text.includes(':')) return { kind: 'digest', digest: parseDigest(text) };
  assertValidTag(text);
  return { kind: 'tag', tag: text };
}

/**
 * A reference to look up (GET, HEAD, DELETE): one that is neither a valid tag nor a supported
 * digest names nothing that could be stored, so it is undefined and the caller answers 404, as
 * distribution and zot do and as clients probing a registry expect (not a 400).
 */
export function tryParseManifestReference(text: string): ManifestReference | undefined {
  if (text.includes(':')) {
    const digest = tryParseDigest(text);
    return digest ? { kind: 'digest', digest } : undefined;
  }
  return isValidTag(text) ? { kind: 'tag', tag: text } : undefined;
}

export function referenceText(reference: ManifestReference): string {
  return reference.kind === 'tag' ? reference.tag : reference.digest.value;
}
