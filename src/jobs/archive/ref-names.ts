import { isValidName, isValidTag } from '../../core/names.js';

/** Where an index.json entry's ref name says an image goes. */
export type RefTarget = { kind: 'repository-tag'; repo: string; tag: string } | { kind: 'tag'; tag: string };

/** The ref name porthole gives a tag: `<repository>:<tag>`, which `oci-archive:FILE:<repository>:<tag>` selects. */
export function refNameOf(repo: string, tag: string): string {
  return `${repo}:${tag}`;
}

/**
 * Reads a ref name: `<repository>:<tag>` (porthole's, and what `skopeo copy ... oci-archive:FILE:repo:tag`
 * writes when given one) or a bare tag (skopeo's usual `oci-archive:FILE:tag`). Undefined when it
 * is neither, e.g. a name with upper-case letters or a tag longer than 128 characters.
 */
export function parseRefName(ref: string): RefTarget | undefined {
  const colon = ref.lastIndexOf(':');
  if (colon > 0) {
    const repo = ref.slice(0, colon);
    const tag = ref.slice(colon + 1);
    return isValidName(repo) && isValidTag(tag) ? { kind: 'repository-tag', repo, tag } : undefined;
  }
  return isValidTag(ref) ? { kind: 'tag', tag: ref } : undefined;
}
