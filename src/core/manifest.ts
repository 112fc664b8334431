import { tryParseDigest, type Digest } from './digest.js';
import { RegistryError } from './errors.js';
import {
  bareMediaType,
  isManifestMediaType,
  manifestKind,
  MEDIA_TYPES,
  type ManifestKind,
  type ManifestMediaType,
} from './media-types.js';

/** Spec: registries should accept manifests of at least 4 MiB; porthole takes exactly that. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  mediaType: ManifestMediaType;
  kind: ManifestKind;
  /** Blobs the manifest needs in the same repository (config and layers of an image). */
  blobs: Descriptor[];
  /** Manifests an index needs in the same repository. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** What the referrers API reports for this manifest (spec: artifactType, else config type). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

type Json = Record<string, unknown>;

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw invalid(`${where}.annotations must be an object of strings`);
  }
  return value as Record<string, string>;
}

function parseOptionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${where} must be a string`);
  return value;
}

export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, urls } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) throw invalid(`${where}.mediaType must be a non-empty string`);
  if (typeof digest !== 'string') throw invalid(`${where}.digest must be a string`);
  const parsed = tryParseDigest(digest);
  if (!parsed) throw invalid(`${where}.digest "${digest.slice(0, 200)}" is not a supported digest`, { digest: digest.slice(0, 200) });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  if (urls !== undefined && (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string'))) {
    throw invalid(`${where}.urls must be an array of strings`);
  }
  const descriptor: Descriptor = { mediaType, digest: parsed, size };
  if (urls !== undefined) descriptor.urls = urls as string[];
  const artifactType = parseOptionalString(value.artifactType, `${where}.artifactType`);
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  const annotations = parseAnnotations(value.annotations, where);
  if (annotations !== undefined) descriptor.annotations = annotations;
  return descriptor;
}

function parseDescriptorList(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item, index) => parseDescriptor(item, `${where}[${index}]`));
}

/**
 * Decides the manifest's media type. The Content-Type header wins when it names a manifest type;
 * a `mediaType` field that disagrees with it is rejected (spec: they must match). Without a
 * usable header the field decides, and without either the structure does.
 */
function resolveMediaType(body: Json, contentType: string | undefined): ManifestMediaType {
  const header = bareMediaType(contentType);
  const field = body.mediaType;
  if (field !== undefined && typeof field !== 'string') throw invalid('mediaType must be a string');
  if (header !== undefined && isManifestMediaType(header)) {
    if (field !== undefined && field !== header) {
      throw invalid(`manifest mediaType "${field}" does not match Content-Type "${header}"`);
    }
    return header;
  }
  if (field !== undefined) {
    if (isManifestMediaType(field)) return field;
    throw invalid(`unsupported manifest media type "${field.slice(0, 200)}"`);
  }
  if (Array.isArray(body.manifests)) return MEDIA_TYPES.ociIndex;
  if (isObject(body.config)) return MEDIA_TYPES.ociManifest;
  throw invalid(`cannot tell the manifest type: Content-Type "${header ?? ''}" is not a manifest type and the body has no mediaType`);
}

/** Parses and validates a manifest body; it does not check that referenced content exists. */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new RegistryError('MANIFEST_INVALID', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, undefined, { status: 413 });
  }
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(body)) throw invalid('manifest must be a JSON object');
  if (body.schemaVersion !== 2) {
    throw invalid(body.schemaVersion === 1 ? 'schema 1 manifests are not supported' : 'schemaVersion must be 2');
  }
  const mediaType = resolveMediaType(body, contentType);
  const kind = manifestKind(mediaType);
  const annotations = parseAnnotations(body.annotations, 'manifest');
  const declaredArtifactType = parseOptionalString(body.artifactType, 'artifactType');
  const subject = body.subject === undefined ? undefined : parseDescriptor(body.subject, 'subject');

  const parsed: ParsedManifest = { mediaType, kind, blobs: [], manifests: [] };
  if (kind === 'image') {
    if (body.manifests !== undefined) throw invalid(`an image manifest (${mediaType}) must not have "manifests"`);
    const config = parseDescriptor(body.config, 'config');
    const layers = parseDescriptorList(body.layers, 'layers');
    parsed.blobs = [config, ...layers];
    parsed.artifactType = declaredArtifactType ?? config.mediaType;
  } else {
    if (body.config !== undefined || body.layers !== undefined) {
      throw invalid(`an index (${mediaType}) must not have "config" or "layers"`);
    }
    parsed.manifests = parseDescriptorList(body.manifests, 'manifests');
    if (declaredArtifactType !== undefined) parsed.artifactType = declaredArtifactType;
  }
  if (subject !== undefined) parsed.subject = subject;
  if (annotations !== undefined) parsed.annotations = annotations;
  return parsed;
}

/** Blobs that must be present locally: foreign (non-distributable) layers carry urls and need not be. */
export function requiredBlobs(manifest: ParsedManifest): Descriptor[] {
  return manifest.blobs.filter((d) => d.urls === undefined || d.urls.length === 0);
}
