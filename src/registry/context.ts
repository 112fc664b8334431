import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.js';
import { assertValidName } from '../core/names.js';
import type { NameUse } from '../http/request-action.js';
import type { AccessGate } from '../auth/access-gate.js';
import type { Tracing } from '../observability/tracing/tracing.js';
import type { RegistryStore } from '../storage/types.js';
import type { MatchedRoute } from '../http/routes.js';

/** What every resource handler gets: the store and the few settings that change API behaviour. */
export interface RegistryContext {
  store: RegistryStore;
  deleteEnabled: boolean;
  /** Binds the store to each traced request's span (the disabled twin when tracing is off). */
  tracing: Pick<Tracing, 'requestScope' | 'bindStore'>;
  /** Authentication and access control, decided before any handler runs; absent when neither is configured. */
  access?: Pick<AccessGate, 'admit'>;
  /** Whether blob GETs ask the store for a location to redirect to first (storage.s3.redirect). */
  redirectBlobs?: boolean;
  /** Why writes (pushes, deletions) must be refused now (Redis is away); absent when nothing can refuse them. */
  writeRefusal?: () => RegistryError | undefined;
  /** The pull-through cache's mapping of a request's name onto storage; absent without one. */
  storageName?: (name: string, request: FastifyRequest, use: NameUse) => Promise<string>;
}

export type ResourceHandler = (
  ctx: RegistryContext,
  route: MatchedRoute & { name: string },
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<void>;

/** A resource: its handler per method. A method missing here answers 405 with the allowed ones. */
export type Resource = Partial<Record<'GET' | 'HEAD' | 'PUT' | 'PATCH' | 'POST' | 'DELETE', ResourceHandler>>;

export function requireDeletion(ctx: RegistryContext): void {
  if (!ctx.deleteEnabled) {
    throw new RegistryError('UNSUPPORTED', 'deletion is disabled on this registry (storage.delete.enabled is false)');
  }
}

export function namedRoute(route: MatchedRoute): MatchedRoute & { name: string } {
  const name = route.name ?? '';
  assertValidName(name);
  return { ...route, name };
}
