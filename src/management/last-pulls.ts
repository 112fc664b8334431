import type { FastifyInstance } from 'fastify';
import '../http/request-context.js';
import { onRequestDone } from '../observability/request-done.js';

/**
 * When this process last served each repository a manifest (a GET answered 200): the `lastPull`
 * of GET /api/v1/repositories. Kept in memory only: recording every pull in the storage would
 * turn each pull into a write. One entry per repository that was pulled (a repository that does
 * not exist answers 404 and gets none), so it is bounded by what the storage holds.
 */
export class LastPulls {
  private readonly at = new Map<string, number>();

  install(server: FastifyInstance): void {
    onRequestDone(server, (request, reply) => {
      // request.repository is the name in storage (the pull-through cache's namespace applied), as listed.
      if (request.method !== 'GET' || request.apiRoute?.kind !== 'manifest' || reply.statusCode !== 200 || request.repository === undefined) return;
      this.at.set(request.repository, Date.now());
    });
  }

  /** ms since the epoch of the last pull of `repository` since start; undefined when none. */
  of(repository: string): number | undefined {
    return this.at.get(repository);
  }
}
