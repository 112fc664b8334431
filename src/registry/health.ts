import type { FastifyInstance } from 'fastify';

/** What the health endpoints report; the server flips these as it starts and stops. */
export interface HealthState {
  started: boolean;
  /** When the graceful shutdown began (ms since the epoch), once it has: what is left of its timeout bounds the last flushes. */
  drainingSince?: number;
}

/**
 * Kubernetes-style probes, as zot serves them: /livez (the process answers), /startupz
 * (initialisation finished), /readyz (started and not shutting down).
 */
export async function healthRoutes(app: FastifyInstance, state: HealthState): Promise<void> {
  const answer = (ok: boolean) => ({ status: ok ? 'ok' : 'unavailable' });
  app.get('/livez', async () => answer(true));
  app.get('/startupz', async (_request, reply) => reply.code(state.started ? 200 : 503).send(answer(state.started)));
  app.get('/readyz', async (_request, reply) => {
    const ready = state.started && state.drainingSince === undefined;
    return reply.code(ready ? 200 : 503).send(answer(ready));
  });
}
