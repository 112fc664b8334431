/** Manifest media types porthole stores and serves. Docker schema 1 is deliberately absent. */
export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** An Accept header naming every manifest type porthole knows, for a client of another registry (distribution answers 404 to a GET of an OCI manifest without one). */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

export type ManifestMediaType = (typeof MEDIA_TYPES)[keyof typeof MEDIA_TYPES];
export type ManifestKind = 'image' | 'index';

const KIND_OF: Record<ManifestMediaType, ManifestKind> = {
  [MEDIA_TYPES.ociManifest]: 'image',
  [MEDIA_TYPES.dockerManifest]: 'image',
  [MEDIA_TYPES.ociIndex]: 'index',
  [MEDIA_TYPES.dockerManifestList]: 'index',
};

export function isManifestMediaType(value: string): value is ManifestMediaType {
  return Object.hasOwn(KIND_OF, value);
}

export function manifestKind(mediaType: ManifestMediaType): ManifestKind {
  return KIND_OF[mediaType];
}

/** The media type part of a Content-Type header: parameters dropped, lower-cased (RFC 9110). */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const bare = contentType.split(';', 1)[0]?.trim().toLowerCase();
  return bare ? bare : undefined;
}
