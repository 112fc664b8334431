import { FailedLogins, type LoginLimits, type LoginLimitSettings } from '../auth/failed-logins.js';
import type { RedisLink } from './redis-link.js';

/** Counts a failure in the key's window, which starts with its first failure and lasts ARGV[1] ms. */
const COUNT_FAILURE = "local n = redis.call('incr', KEYS[1]); if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end; return n";

/**
 * The limits on guessing passwords, shared by every replica (a guesser spreading attempts over
 * the balancer's replicas is counted once): fixed windows per address and per user, as
 * FailedLogins keeps them, in Redis counters that expire with their window. While Redis is away
 * each replica counts alone, so the limits hold per replica rather than not at all.
 */
export class RedisLoginLimits implements LoginLimits {
  private readonly alone: FailedLogins;

  constructor(
    private readonly link: RedisLink,
    private readonly settings: LoginLimitSettings,
  ) {
    this.alone = new FailedLogins(settings);
  }

  retryAfter(address: string, user: string): Promise<number> {
    return this.link.attempt(
      async () => {
        const [byAddress, byUser] = await Promise.all([this.lockedFor(`login:address:${address}`, this.settings.limit), this.lockedFor(`login:user:${user}`, this.settings.userLimit)]);
        return Math.ceil(Math.max(byAddress, byUser) / 1000);
      },
      () => this.alone.retryAfter(address, user),
    );
  }

  async failed(address: string, user: string): Promise<void> {
    await this.alone.failed(address, user);
    const window = this.settings.windowMs;
    await this.link.attempt(
      async () => void (await this.link.run((client) => Promise.all([client.eval(COUNT_FAILURE, 1, `login:address:${address}`, window), client.eval(COUNT_FAILURE, 1, `login:user:${user}`, window)]))),
      () => undefined,
    );
  }

  /** Milliseconds until `key`'s window ends when it holds `limit` failures or more; 0 otherwise. */
  private async lockedFor(key: string, limit: number): Promise<number> {
    const [count, left] = await this.link.run(async (client) => [await client.get(key), await client.pttl(key)] as const);
    return Number(count ?? 0) >= limit ? Math.max(0, left) : 0;
  }
}
