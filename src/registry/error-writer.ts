import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_TABLE, isRegistryError, RegistryError } from '../core/errors.js';
import { isStorageFull } from '../storage/storage-full.js';
import '../http/request-context.js';

/**
 * The one place that turns a failure into an HTTP answer:
 * {"errors":[{"code","message","detail"}]}, HEAD answers without a body, and anything that is
 * not a RegistryError becomes a 500 UNKNOWN that is logged once and never shows internals.
 */
export const API_VERSION = 'registry/2.0';

export function toRegistryError(err: unknown, request: FastifyRequest): RegistryError {
  if (isRegistryError(err)) return err;
  const fastifyError = err as FastifyError;
  if (fastifyError.code === 'FST_ERR_BAD_URL') {
    // Same answer as a malformed percent-encoding found by the route matcher (routes.ts).
    return new RegistryError('NAME_INVALID', 'the request path has a malformed percent-encoding');
  }
  if (isStorageFull(err)) {
    // Logged by the storage-full watch (at most once a minute), not once per request.
    return new RegistryError('STORAGE_FULL', 'storage is full: nothing was stored; try again once there is room');
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new RegistryError('SIZE_INVALID', 'request body too large', undefined, { status: 413 });
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new RegistryError('UNSUPPORTED', fastifyError.message, undefined, { status: fastifyError.statusCode });
  }
  request.log.error({ err, reqId: request.id }, 'request failed with an unexpected error');
  return new RegistryError('UNKNOWN', `${ERROR_TABLE.UNKNOWN.message}; see the server log for request ${request.id}`);
}

export function errorBody(err: RegistryError): { errors: Array<{ code: string; message: string; detail?: unknown }> } {
  return {
    errors: [err, ...err.additional].map((e) => {
      const entry: { code: string; message: string; detail?: unknown } = { code: e.code, message: e.message };
      if (e.detail !== undefined) entry.detail = e.detail;
      return entry;
    }),
  };
}

export function writeError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const registryError = toRegistryError(err, request);
  request.errorCode = registryError.code;
  reply.code(registryError.status);
  // Set here as well as in the API's onRequest hook: framework errors never reach that hook.
  reply.header('docker-distribution-api-version', API_VERSION);
  for (const [name, value] of Object.entries(registryError.headers)) reply.header(name, value);
  if (registryError.status >= 500) reply.header('connection', 'close');
  const body = JSON.stringify(errorBody(registryError));
  reply.header('content-type', 'application/json; charset=utf-8');
  if (request.method === 'HEAD') {
    reply.header('content-length', Buffer.byteLength(body));
    reply.send();
    return;
  }
  reply.send(body);
}

/**
 * Answers a request that Node's HTTP parser could not even read (bad framing, oversized headers),
 * on the raw socket, still in the OCI error shape. A connection reset needs no answer.
 */
export function writeClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) return;
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request did not arrive in time']
        : [400, 'Bad Request', 'malformed HTTP request'];
  const body = JSON.stringify(errorBody(new RegistryError('UNSUPPORTED', message, undefined, { status })));
  socket.end(
    [
      `HTTP/1.1 ${status} ${reason}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `Docker-Distribution-API-Version: ${API_VERSION}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}
