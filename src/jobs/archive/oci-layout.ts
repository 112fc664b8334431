import { tryParseDigest, type Digest } from '../../core/digest.js';

/**
 * The names an OCI image layout gives its parts (image-spec, image-layout.md), as they appear in
 * a tar of one: `oci-layout`, `index.json`, and every blob (manifests included) under
 * `blobs/<algorithm>/<hex>`.
 */
export const LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const LAYOUT_VERSION = '1.0.0';

/** The annotation that names an index.json entry; porthole writes `<repository>:<tag>`. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/**
 * porthole's own annotation on every index.json entry it writes: the repository the entry
 * belongs to. It is what places untagged entries (referrers) on restore, since a ref name only
 * exists for tags; other tools ignore it.
 */
export const REPOSITORY_ANNOTATION = 'porthole.repository';

export function blobEntryName(digest: Digest): string {
  return `blobs/${digest.algorithm}/${digest.hex}`;
}

/** An entry name as written by any tar tool: `./index.json` and `index.json` are one file. */
export function normalizedEntryName(name: string): string {
  let normalized = name;
  while (normalized.startsWith('./')) normalized = normalized.slice(2);
  return normalized.replace(/\/+$/, '');
}

/** The digest a `blobs/<algorithm>/<hex>` entry claims to hold; undefined for any other name. */
export function digestOfEntry(name: string): Digest | undefined {
  const match = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name);
  if (!match) return undefined;
  return tryParseDigest(`${match[1]}:${match[2]}`);
}
