/**
 * Serialises async work per key within this process (one upload session's chunks, one tag's
 * writes). Work for different keys runs concurrently. Entries are dropped when idle.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** `onWait` hears how long each piece of work waited for the key (seconds), for metrics. */
  constructor(private readonly onWait: (seconds: number) => void = () => {}) {}

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const queuedAt = performance.now();
    const current = previous
      .catch(() => undefined)
      .then(() => {
        this.onWait((performance.now() - queuedAt) / 1000);
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
