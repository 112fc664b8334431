/**
 * Answers whose body porthole sends itself, outside node's response object (sendfile,
 * file-range-stream.ts). Node cannot know when such a body went out in full, and a client that
 * closes as soon as it has the last byte may close the connection while the send that carried
 * that byte is still returning from the thread pool. Such an answer was delivered, not abandoned,
 * and the access line, the audit line and the span must say so (request-done.ts, access-log.ts).
 */
const delivered = new WeakSet<object>();
const inFlight = new WeakMap<object, Array<() => void>>();

/** The body starts going out; call what this returns once it has gone out in full or failed. */
export function selfSentBodyStarted(response: object): () => void {
  inFlight.set(response, []);
  return () => {
    const waiting = inFlight.get(response) ?? [];
    inFlight.delete(response);
    for (const then of waiting) then();
  };
}

/** Every byte of the body is with the kernel. */
export function markBodyDelivered(response: object): void {
  delivered.add(response);
}

/** Runs `then` once a self-sent body in flight has settled, and says true; false when there is none. */
export function afterSelfSentBody(response: object, then: () => void): boolean {
  const waiting = inFlight.get(response);
  if (waiting === undefined) return false;
  waiting.push(then);
  return true;
}

/** Whether the answer went out in full: node's own account of it, or porthole's for a body it sent itself. */
export function answerDelivered(response: { writableFinished: boolean }): boolean {
  return response.writableFinished || delivered.has(response);
}
