import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_TABLE, isRegistryError, RegistryError } from '../core/errors.js';

/**
 * The one place that turns a failure into an HTTP answer:
 * {"errors":[{"code","message","detail"}]}, HEAD answers without a body, and anything that is
 * not a RegistryError becomes a 500 UNKNOWN that is logged once and never shows internals.
 */
export function toRegistryError(err: unknown, request: FastifyRequest): RegistryError {
  if (isRegistryError(err)) return err;
  const fastifyError = err as FastifyError;
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
  reply.code(registryError.status);
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
