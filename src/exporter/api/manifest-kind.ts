import { bareMediaType, isManifestMediaType, MANIFEST_ACCEPT as PORTHOLE_MANIFEST_ACCEPT, manifestKind, type ManifestKind } from '../../core/media-types.js';

/**
 * What a manifest is, for oci_registry_manifests{media_type}: an index (OCI image index or Docker
 * manifest list), an artifact (an image manifest with an artifactType, or whose config is not an
 * image config), or an image (any other OCI or Docker schema 2 image manifest).
 */
export type ManifestClass = 'image' | 'index' | 'artifact';

/** Every manifest type the exporter asks for, in the Accept header of HEAD and GET. */
export const MANIFEST_ACCEPT = `${PORTHOLE_MANIFEST_ACCEPT}, application/vnd.oci.artifact.manifest.v1+json`;

/** Whether `mediaType` is one of the manifest types porthole knows, of this kind. */
function isKnownOfKind(mediaType: string | undefined, kind: ManifestKind): boolean {
  return mediaType !== undefined && isManifestMediaType(mediaType) && manifestKind(mediaType) === kind;
}
/** Config media types of container images; any other config makes the manifest an artifact. */
export const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
/** The OCI 1.1 release candidates' artifact manifest, which some registries still hold. */
const ARTIFACT_MANIFEST = 'application/vnd.oci.artifact.manifest.v1+json';

/** One reference of a manifest: a blob (config, layer) or, from an index, a child manifest. */
export interface Reference {
  digest: string;
  size: number;
}

/** What the exporter keeps of a parsed manifest: its class and what it references, nothing else. */
export interface ParsedEntry {
  kind: ManifestClass;
  /** Blobs it references (config and layers), with the sizes their descriptors give. */
  blobs: Reference[];
  /** Child manifests of an index (their sizes come from fetching them). */
  children: Reference[];
}

export class ManifestParseError extends Error {
  override name = 'ManifestParseError';
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A descriptor's digest and size; a descriptor without a digest is skipped, a missing size counts 0. */
function references(list: unknown): Reference[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => {
    if (!isObject(item) || typeof item.digest !== 'string') return [];
    const size = typeof item.size === 'number' && Number.isFinite(item.size) && item.size >= 0 ? item.size : 0;
    return [{ digest: item.digest, size }];
  });
}

/**
 * Classifies a manifest and lists what it references. The body's mediaType wins over the
 * Content-Type header (some registries answer application/json); without either, the shape
 * decides (`manifests` makes an index, `config` and `layers` an image).
 */
export function parseManifestEntry(bytes: Buffer | string, contentType?: string): ParsedEntry {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    throw new ManifestParseError('not JSON');
  }
  if (!isObject(json)) throw new ManifestParseError('not a JSON object');
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  const headerType = bareMediaType(contentType);
  const mediaType = declared ?? (headerType && headerType !== 'application/json' ? headerType : undefined);

  if (isKnownOfKind(mediaType, 'index') || (mediaType === undefined && Array.isArray(json.manifests))) {
    return { kind: 'index', blobs: [], children: references(json.manifests) };
  }
  if (mediaType === ARTIFACT_MANIFEST) return { kind: 'artifact', blobs: references(json.blobs), children: [] };
  if (json.schemaVersion === 1 && Array.isArray(json.fsLayers)) {
    // Docker schema 1: no sizes in the manifest; its layers count 0 bytes.
    const layers = (json.fsLayers as unknown[]).flatMap((layer) => (isObject(layer) && typeof layer.blobSum === 'string' ? [{ digest: layer.blobSum, size: 0 }] : []));
    return { kind: 'image', blobs: layers, children: [] };
  }
  if (isKnownOfKind(mediaType, 'image') || (mediaType === undefined && isObject(json.config))) {
    const config = isObject(json.config) ? json.config : undefined;
    const blobs = [...references(config ? [config] : []), ...references(json.layers)];
    const configType = typeof config?.mediaType === 'string' ? config.mediaType : undefined;
    const artifact = typeof json.artifactType === 'string' || configType === undefined || !IMAGE_CONFIG_TYPES.has(configType);
    return { kind: artifact ? 'artifact' : 'image', blobs, children: [] };
  }
  throw new ManifestParseError(`not an image manifest or index (media type ${mediaType ?? 'unknown'})`);
}
