/**
 * Messages every replica hears (a repository another replica created, for its catalog): through
 * Redis' publish/subscribe, or nowhere for one process alone. Delivery is best effort, so a
 * replica that may have missed messages (its subscription was down) is told by `onGap`, and
 * rebuilds what it keeps from storage.
 */
export interface Broadcasts {
  publish(topic: string, message: string): void;
  subscribe(topic: string, listener: (message: string) => void): void;
  onGap(listener: () => void): void;
}

/** One process alone: nobody else to tell, nothing to miss. */
export const noBroadcasts: Broadcasts = {
  publish: () => undefined,
  subscribe: () => undefined,
  onGap: () => undefined,
};
