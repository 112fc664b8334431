/**
 * Small values with a time to live that replicas share (the last storage scan's figures, upstream
 * tokens): in this process, or in Redis. Never required for correctness: while Redis is away
 * `get` finds nothing and `set` keeps nothing, and each replica does the work itself.
 */
export interface SharedValues {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
}

/** Values kept in this process, each until its time to live has passed. */
export class LocalValues implements SharedValues {
  private readonly values = new Map<string, { value: string; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string): Promise<string | undefined> {
    const entry = this.values.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.now()) return entry.value;
    this.values.delete(key);
    return undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.values.set(key, { value, expiresAt: this.now() + ttlMs });
  }
}
