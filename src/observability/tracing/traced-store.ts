import type { LocalCache } from '../../storage/local-cache.js';
import type { SpanAttributes, Tracing } from './tracing.js';

/** The store's operations that get a span, with the span's name (docs/tracing.md). */
const SPAN_NAMES: Partial<Record<keyof LocalCache, string>> = {
  statBlob: 'storage.statBlob',
  openBlob: 'storage.getBlob',
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

/** Operations whose second argument is an upload session id. */
const SESSION_OPERATIONS = new Set<PropertyKey>(['getUpload', 'appendUpload', 'finishUpload', 'cancelUpload']);

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
  if (SESSION_OPERATIONS.has(operation) && typeof args[1] === 'string') attributes['porthole.upload_id'] = args[1];
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
 */
export function tracedStore(store: LocalCache, tracing: Tracing): LocalCache {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      const name = SPAN_NAMES[property as keyof LocalCache];
      if (name === undefined || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      const operation = value as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => tracing.span(name, attributesOf(property, args), () => operation.apply(target, args));
    },
  });
}
