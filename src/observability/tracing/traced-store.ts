import type { LocalCache } from '../../storage/local-cache.js';
import { storeProperties } from './store-properties.js';
import type { SpanAttributes, Tracing } from './tracing.js';

/** The store's operations that get a span, with the span's name (docs/tracing.md). */
const SPAN_NAMES: Partial<Record<keyof LocalCache, string>> = {
  statBlob: 'storage.statBlob',
  openBlob: 'storage.getBlob',
  blobLocation: 'storage.locateBlob',
  deleteBlob: 'storage.deleteBlob',
  mountBlob: 'storage.mountBlob',
  startUpload: 'storage.startUpload',
  getUpload: 'storage.getUpload',
  appendUpload: 'storage.appendUpload',
  finishUpload: 'storage.commitUpload',
  cancelUpload: 'storage.cancelUpload',
  getManifest: 'storage.getManifest',
  putManifest: 'storage.putManifest',
  cacheManifest: 'storage.cacheManifest',
  deleteManifest: 'storage.deleteManifest',
  deleteTag: 'storage.deleteTag',
  repositoryExists: 'storage.repositoryExists',
  listTags: 'storage.listTags',
  listRepositories: 'storage.listRepositories',
  listReferrers: 'storage.listReferrers',
  tagWrittenAt: 'storage.tagWrittenAt',
};

/** What the second argument of some operations names: an upload session, a tag, a mount's source. */
const SECOND_ARGUMENT: Partial<Record<keyof LocalCache, string>> = {
  getUpload: 'porthole.upload_id',
  appendUpload: 'porthole.upload_id',
  finishUpload: 'porthole.upload_id',
  cancelUpload: 'porthole.upload_id',
  deleteTag: 'porthole.reference',
  tagWrittenAt: 'porthole.reference',
};

function isDigest(value: unknown): value is { value: string; algorithm: string } {
  return typeof value === 'object' && value !== null && 'algorithm' in value && 'hex' in value && 'value' in value;
}

function isReference(value: unknown): value is { kind: 'tag'; tag: string } | { kind: 'digest'; digest: { value: string } } {
  return typeof value === 'object' && value !== null && 'kind' in value && (value.kind === 'tag' || value.kind === 'digest');
}

/** What an operation's arguments say about its target: the repository, and a digest, reference or session. */
function attributesOf(operation: PropertyKey, args: unknown[]): SpanAttributes {
  const attributes: SpanAttributes = {};
  if (typeof args[0] === 'string') attributes['porthole.repo'] = args[0];
  const second = SECOND_ARGUMENT[operation as keyof LocalCache];
  if (second !== undefined && typeof args[1] === 'string') attributes[second] = args[1];
  // mountBlob(repo, digest, from)
  if (operation === 'mountBlob' && typeof args[2] === 'string') attributes['porthole.from'] = args[2];
  for (const arg of args) {
    if (isDigest(arg)) attributes['porthole.digest'] ??= arg.value;
    else if (isReference(arg)) attributes['porthole.reference'] = arg.kind === 'tag' ? arg.tag : arg.digest.value;
  }
  return attributes;
}

/**
 * The store with a child span around each asynchronous operation (SPAN_NAMES), carrying the
 * repository and the digest, reference or upload session it is about; a failure is recorded on
 * its span. Operations outside any traced request or job (the periodic storage scan) are not
 * traced: they would make a root trace every few seconds. Everything else passes through as is.
 *
 * A plain object whose methods are made once, not a Proxy: every storage call of every request
 * goes through it, traced or not, and a Proxy runs its trap (and defeats V8's inline caches) on
 * every property read.
 */
export function tracedStore(store: LocalCache, tracing: Tracing): LocalCache {
  const traced: Record<string, unknown> = {};
  for (const property of storeProperties(store)) {
    const value: unknown = Reflect.get(store, property);
    if (typeof value !== 'function') {
      Object.defineProperty(traced, property, { get: () => Reflect.get(store, property), set: (value: unknown) => Reflect.set(store, property, value), enumerable: true });
      continue;
    }
    const operation = value as (...args: unknown[]) => Promise<unknown>;
    const name = SPAN_NAMES[property as keyof LocalCache];
    traced[property] =
      name === undefined
        ? operation.bind(store)
        : (...args: unknown[]) => (tracing.recording ? tracing.span(name, attributesOf(property, args), () => operation.apply(store, args)) : operation.apply(store, args));
  }
  return traced as unknown as LocalCache;
}
