import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { afterSelfSentBody } from '../runtime/body-delivery.js';

type Done = (request: FastifyRequest, reply: FastifyReply) => void;

/** Per server: the listeners, `done` reports still owed to requests that arrived, and who waits for none. */
interface Owed {
  listeners: Done[];
  count: number;
  waiters: Set<() => void>;
}

const owedByServer = new WeakMap<FastifyInstance, Owed>();

function owedOf(app: FastifyInstance): Owed {
  let owed = owedByServer.get(app);
  if (!owed) {
    owed = { listeners: [], count: 0, waiters: new Set() };
    owedByServer.set(app, owed);
    installHooks(app, owed);
  }
  return owed;
}

/**
 * Calls `done` exactly once per request, when porthole is finished with it. Fastify's
 * onResponse runs only for an answer written in full: a client that hangs up mid-body, or a
 * connection cut by a shutdown, never reaches it, yet those are exactly the attempts the access
 * and audit logs (and the metrics) must not lose. For them `done` runs once the connection has
 * closed and porthole has given its answer (a handler learns of the hang-up only after the close,
 * and its answer, such as 400 SIZE_INVALID, is how the attempt ended), or at the close if the
 * answer had begun. Listeners run in the order they were added.
 */
export function onRequestDone(app: FastifyInstance, done: Done): void {
  owedOf(app).listeners.push(done);
}

/** Where a request is on its way to `done`, kept on the request itself (no lookups on the hot path). */
const enum Progress {
  /** Arrived; no answer given yet. */
  Arrived = 0,
  /** Its answer has been given (onSend ran). */
  Answered = 1,
  /** Its connection closed before the answer was written in full. */
  ClosedEarly = 2,
  /** Both of the above. */
  AnsweredAndClosedEarly = 3,
  /** `done` has been called. */
  Reported = 4,
}

declare module 'fastify' {
  interface FastifyRequest {
    /** request-done.ts's account of the request (Progress). */
    doneProgress?: number;
  }
}

/** One set of hooks per server, however many listeners. */
function installHooks(app: FastifyInstance, owed: Owed): void {
  const report = (request: FastifyRequest, reply: FastifyReply): void => {
    if (request.doneProgress === Progress.Reported) return;
    request.doneProgress = Progress.Reported;
    try {
      for (const listener of owed.listeners) listener(request, reply);
    } finally {
      owed.count -= 1;
      if (owed.count === 0) for (const wake of owed.waiters) wake();
    }
  };

  app.addHook('onRequest', (request, reply, done) => {
    owed.count += 1;
    request.doneProgress = Progress.Arrived;
    // Read while the connection is open: node keeps the peer address once asked, and a socket
    // already closed by a client that hung up could no longer tell it.
    void request.ip;
    const onClose = (): void => {
      // A response written in full is onResponse's.
      if (reply.raw.writableFinished) return;
      // A body porthole sends itself (sendfile) says when it settles whether it went out in
      // full: a client may close on the last byte before the send that carried it returns.
      if (afterSelfSentBody(reply.raw, onClose)) return;
      if (request.doneProgress === Progress.Reported) return;
      request.doneProgress = (request.doneProgress ?? Progress.Arrived) | Progress.ClosedEarly;
      if (request.doneProgress === Progress.AnsweredAndClosedEarly) report(request, reply);
    };
    // The client may be gone already, its 'close' past.
    if (reply.raw.destroyed) onClose();
    else reply.raw.once('close', onClose);
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.doneProgress !== Progress.Reported) {
      request.doneProgress = (request.doneProgress ?? Progress.Arrived) | Progress.Answered;
      if (request.doneProgress === Progress.AnsweredAndClosedEarly) report(request, reply);
    }
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    report(request, reply);
    done();
  });
}

/**
 * Requests that have arrived at `app` and are not done yet: those being served now (the
 * management API's replica heartbeat reports it), from the same hooks, so at no extra cost.
 */
export function requestsInProgress(app: FastifyInstance): number {
  return owedByServer.get(app)?.count ?? 0;
}

/**
 * Resolves once every request that has arrived at `app` is done (its lines written), or after
 * `timeoutMs`. A graceful shutdown waits for it once the listener is closed: the requests that
 * its timeout cut off are answered, and so logged and audited, only after their connections
 * are gone, and "porthole stopped" must come after them, not before (or instead).
 */
export function requestsDone(app: FastifyInstance, timeoutMs: number): Promise<void> {
  const owed = owedOf(app);
  if (owed.count === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      owed.waiters.delete(finish);
      resolve();
    };
    const timer = setTimeout(finish, timeoutMs);
    owed.waiters.add(finish);
  });
}

/**
 * For requests Fastify refuses before any hook runs (a malformed URL, over-long parameters):
 * the listeners still hear of them, once their answer is out, so that they too are logged,
 * audited and counted. They were never counted as owed, so they do not touch `count`.
 */
export function reportRefused(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): void {
  const owed = owedByServer.get(app);
  if (!owed) return;
  reply.raw.once('close', () => {
    for (const listener of owed.listeners) listener(request, reply);
  });
}
