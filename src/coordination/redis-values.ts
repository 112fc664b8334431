import type { RedisLink } from './redis-link.js';
import type { SharedValues } from './shared-values.js';

/** Shared values in Redis (GET, SET PX); while Redis is away, nothing is found and nothing kept. */
export class RedisValues implements SharedValues {
  constructor(private readonly link: RedisLink) {}

  async get(key: string): Promise<string | undefined> {
    if (!this.link.available()) return undefined;
    try {
      return (await this.link.run((client) => client.get(`value:${key}`))) ?? undefined;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (!this.link.available()) return;
    await this.link.run((client) => client.set(`value:${key}`, value, 'PX', Math.max(1, Math.round(ttlMs)))).catch(() => undefined);
  }
}
