import { randomUUID } from 'node:crypto';
import type { RedisLink } from './redis-link.js';

/** Deletes the key only while it still holds our token: a lease that expired and was taken by another is not ours to end. */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/** Extends the key's life only while it still holds our token. */
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/** A key held in Redis for a while, renewed until released; gone by itself if its holder dies. */
export interface Lease {
  /** False once a renewal found the key taken by another (this holder was presumed dead). */
  held(): boolean;
  /** Aborted when a renewal finds the lease gone: work done under it must stop. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/**
 * Leases on Redis keys (SET NX PX, a Lua check-and-delete to release): the building block of
 * every lock several replicas share. A holder renews its lease at a third of its time to live,
 * so a replica killed while holding one frees it within `ttlMs`.
 */
export class RedisLeases {
  constructor(private readonly link: RedisLink) {}

  /** Takes `key` holding `value` (a token is added); undefined when someone holds it. */
  async tryAcquire(key: string, ttlMs: number, value = ''): Promise<Lease | undefined> {
    const token = `${value}\n${randomUUID()}`;
    const taken = await this.link.run((client) => client.set(key, token, 'PX', ttlMs, 'NX'));
    if (taken !== 'OK') return undefined;
    const lost = new AbortController();
    let released = false;
    const timer = setInterval(() => {
      void this.link
        .run((client) => client.eval(RENEW, 1, key, token, ttlMs))
        .then((renewed) => {
          if (renewed === 0 && !released) {
            clearInterval(timer);
            lost.abort(new Error(`the lease on ${key} expired while held (Redis was out of reach for longer than ${ttlMs} ms) and may be held by another replica`));
          }
        })
        .catch(() => undefined); // Redis away: the next renewal tries again, the key may outlive it
    }, ttlMs / 3);
    timer.unref();
    return {
      held: () => !lost.signal.aborted && !released,
      lost: lost.signal,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.link.run((client) => client.eval(RELEASE, 1, key, token)).catch(() => undefined);
      },
    };
  }

  /** What the holder of `key` wrote (without its token); undefined when nobody holds it. */
  async holder(key: string): Promise<string | undefined> {
    const value = await this.link.run((client) => client.get(key));
    return value === null ? undefined : value.slice(0, value.lastIndexOf('\n'));
  }
}
