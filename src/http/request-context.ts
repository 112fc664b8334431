import type { PullProvenance } from '../storage/types.js';
import type { MatchedRoute } from './routes.js';

/**
 * What porthole learns about a request while handling it, for the access log, the audit log and
 * (later) metrics. Filled in by the API plugin, the handlers and the error writer.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** The API route, when the path has the shape of one (even if the name turns out invalid). */
    apiRoute?: MatchedRoute;
    /** The repository the request is about, once its name has been validated. */
    repository?: string;
    /** Body bytes received, for requests whose body porthole reads. */
    bytesIn?: number;
    /** The OCI error code of the answer, when it was an error. */
    errorCode?: string;
    /** For a pull through the cache of an upstream: its namespace, and whether it was cached. */
    pullProvenance?: PullProvenance;
    /** The authenticated user; absent for anonymous requests. */
    user?: string;
    /** The user a verified TLS client certificate names (mutual TLS); absent without one. */
    certificateUser?: string;
    /** Why a client certificate that was presented is not accepted (expired, not signed by the client CA). */
    certificateRefused?: string;
    /** Set by access control for the catalog: whether the caller may pull a repository (only those are listed). */
    mayPull?: (repository: string) => boolean;
    /** Set by access control when a mount's source may not be pulled by the caller: an upload session is started instead. */
    mountRefused?: boolean;
  }
}

export const ANONYMOUS = 'anonymous';
