import type { RedisLink } from './redis-link.js';
import type { SharedValues } from './shared-values.js';

/** Shared values in Redis (GET, SET PX); while Redis is away, nothing is found and nothing kept. */
export class RedisValues implements SharedValues {
  constructor(private readonly link: RedisLink) {}

  get(key: string): Promise<string | undefined> {
    return this.link.attempt(
      async () => (await this.link.run((client) => client.get(`value:${key}`))) ?? undefined,
      () => undefined,
    );
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.link.attempt(
      async () => void (await this.link.run((client) => client.set(`value:${key}`, value, 'PX', Math.max(1, Math.round(ttlMs))))),
      () => undefined,
    );
  }
}
