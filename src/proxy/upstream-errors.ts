import { RegistryError } from '../core/errors.js';
import { isUpstreamFailure } from './upstream-failure.js';

/**
 * What a client is told when the upstream could not supply something that is not cached: 404
 * when the upstream says it does not exist, 403 when it refuses porthole, 429 when it throttles,
 * and 503 UNAVAILABLE otherwise (down, too slow, or sent something broken).
 */
export function clientErrorOf(err: unknown, notFound: () => RegistryError): RegistryError {
  if (!isUpstreamFailure(err)) {
    if (err instanceof RegistryError && err.status < 500) {
      // The upstream sent content porthole refuses to store (an invalid manifest, a wrong digest).
      return new RegistryError('UNAVAILABLE', `the upstream sent content that cannot be cached: ${err.message}`);
    }
    throw err;
  }
  switch (err.outcome) {
    case 'not_found':
      return notFound();
    case 'denied':
      return new RegistryError('DENIED', `${err.message}; the repository may not exist upstream, or the credentials in proxy.upstreams do not allow it`);
    case 'throttled':
      return new RegistryError('TOOMANYREQUESTS', err.message);
    default:
      return new RegistryError('UNAVAILABLE', `not cached, and the upstream cannot supply it now: ${err.message}`);
  }
}

/** clientErrorOf for a blob: 404 BLOB_UNKNOWN when the upstream has no such blob. */
export function blobClientError(err: unknown, upstream: string, remoteRepo: string, digest: string): RegistryError {
  return clientErrorOf(err, () => new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in ${upstream}/${remoteRepo} upstream`, { digest }));
}
