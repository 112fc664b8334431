import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.js';
import { blobResource } from './blobs.js';
import { namedRoute, type RegistryContext, type Resource } from './context.js';
import { catalog, referrersResource, tagsResource } from './discovery.js';
import { API_VERSION, writeError } from './error-writer.js';
import { manifestResource } from './manifests.js';
import { pathOf } from '../http/request-url.js';
import { matchRoute, type MatchedRoute, type RouteKind } from '../http/routes.js';
import { uploadResource, uploadsResource } from './uploads.js';
import { nameUse, requestAction, type RequestAction } from '../http/request-action.js';

import '../http/request-context.js';

const RESOURCES: Record<Exclude<RouteKind, 'base' | 'catalog'>, Resource> = {
  manifest: manifestResource,
  blob: blobResource,
  uploads: uploadsResource,
  upload: uploadResource,
  tags: tagsResource,
  referrers: referrersResource,
};

const READ_ONLY = new Set(['GET', 'HEAD']);
/** The actions that change what is stored: refused while what they need to share with other replicas is away. */
const WRITES = new Set<RequestAction>(['push', 'delete']);

function methodNotAllowed(request: FastifyRequest, allowed: string[]): RegistryError {
  return new RegistryError('UNSUPPORTED', `${request.method} is not allowed here; allowed: ${allowed.join(', ')}`, undefined, {
    status: 405,
    headers: { allow: allowed.join(', ') },
  });
}

function allowedMethods(resource: Resource): string[] {
  const methods = Object.keys(resource);
  return resource.GET && !resource.HEAD ? [...methods, 'HEAD'] : methods;
}

async function dispatch(ctx: RegistryContext, route: MatchedRoute, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (route.kind === 'base' || route.kind === 'catalog') {
    if (!READ_ONLY.has(request.method)) throw methodNotAllowed(request, ['GET', 'HEAD']);
    if (route.kind === 'catalog') return catalog(ctx, request, reply);
    await reply.code(200).header('content-type', 'application/json; charset=utf-8').header('content-length', 2).send(request.method === 'HEAD' ? undefined : '{}');
    return;
  }
  const resource = RESOURCES[route.kind];
  // HEAD of a GET-only resource is its GET without the body (Node drops the body of a HEAD answer).
  const handler = resource[request.method as keyof Resource] ?? (request.method === 'HEAD' ? resource.GET : undefined);
  if (!handler) throw methodNotAllowed(request, allowedMethods(resource));
  const named = namedRoute(ctx.storageName ? { ...route, name: await ctx.storageName(route.name ?? '', request, nameUse(request.method, route.kind)) } : route);
  request.repository = named.name;
  await handler(ctx, named, request, reply);
}

/** The /v2 API. One wildcard route: the path is matched here because names contain slashes. */
export async function registryApi(app: FastifyInstance, ctx: RegistryContext): Promise<void> {
  // Bodies are streamed straight from the socket by the handlers (blobs are never buffered).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('docker-distribution-api-version', API_VERSION);
    try {
      const route = matchRoute(pathOf(request.url));
      if (route) request.apiRoute = route;
    } catch {
      // A malformed path: the handler meets the same error and answers it.
    }
    done();
  });

  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // Matched once in onRequest; matched again only when that found nothing or threw (a
    // malformed path), so that the error reaches the error writer from here.
    const route = request.apiRoute ?? matchRoute(pathOf(request.url));
    if (!route) throw new RegistryError('UNSUPPORTED', `no API endpoint at ${pathOf(request.url).slice(0, 200)}`, undefined, { status: 404 });
    if (ctx.access) await ctx.access.admit(request, route);
    const refusal = ctx.writeRefusal && WRITES.has(requestAction(request.method, route.kind)) ? ctx.writeRefusal() : undefined;
    if (refusal) throw refusal;
    // A traced request's handler gets the store bound to its span: what storage and the
    // pull-through cache do for it, before and after any await, is that span's children.
    const scope = ctx.tracing.requestScope(request);
    await dispatch(scope ? { ...ctx, store: ctx.tracing.bindStore(ctx.store, scope) } : ctx, route, request, reply);
  };
  app.all('/v2', handle);
  app.all('/v2/*', handle);

  app.setErrorHandler((err, request, reply) => writeError(err, request, reply));
  app.setNotFoundHandler((request, reply) =>
    writeError(new RegistryError('UNSUPPORTED', `no endpoint at ${pathOf(request.url).slice(0, 200)}`, undefined, { status: 404 }), request, reply),
  );
}
