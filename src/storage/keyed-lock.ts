/**
 * Called as work queues for a key, synchronously in its caller (so that the caller's trace can
 * be held); what it returns hears how long that work waited (seconds), for metrics and spans.
 */
export type WaitListener = () => (seconds: number) => void;

const unheard = (): void => undefined;

/** Serialises work per key: within this process (KeyedLock), or across every replica that shares the storage (coordination/). */
export interface SharedLocks {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/**
 * Serialises async work per key within this process (one upload session's chunks, one tag's
 * writes). Work for different keys runs concurrently. Entries are dropped when idle.
 */
export class KeyedLock implements SharedLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly onWait: WaitListener = () => unheard) {}

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const queuedAt = performance.now();
    const heard = this.onWait();
    const current = previous
      .catch(() => undefined)
      .then(() => {
        heard((performance.now() - queuedAt) / 1000);
        return work();
      });
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
