import { parseDigest, type Digest } from './digest.js';
import { assertValidTag } from './names.js';

/** A manifest reference from a URL: either a tag or a digest, never anything else. */
export type ManifestReference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

export function parseManifestReference(text: string): ManifestReference {
  if (text.includes(':')) return { kind: 'digest', digest: parseDigest(text) };
  assertValidTag(text);
  return { kind: 'tag', tag: text };
}

export function referenceText(reference: ManifestReference): string {
  return reference.kind === 'tag' ? reference.tag : reference.digest.value;
}
