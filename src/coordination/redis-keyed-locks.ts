import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../core/errors.js';
import { KeyedLock, type SharedLocks, type WaitListener } from '../storage/keyed-lock.js';
import type { RedisLeases } from './redis-leases.js';

/** How long a lease lives without renewal: a replica killed while holding one frees it this soon. */
const LEASE_MS = 15_000;
/** How long work waits for another replica to let go, before it is refused. */
const MAX_WAIT_MS = 60_000;

/**
 * Per-key locks across replicas: a Redis lease per key, taken once this process's own work for
 * the key (queued on a KeyedLock, so that it asks Redis once at a time) is next. A key busy on
 * another replica is polled for, backing off to 200 ms, for at most a minute.
 */
export class RedisKeyedLocks implements SharedLocks {
  private readonly local: KeyedLock;

  constructor(
    private readonly leases: RedisLeases,
    /** What the keys lock (`upload`): part of each Redis key. */
    private readonly space: string,
    onWait?: WaitListener,
  ) {
    this.local = new KeyedLock(onWait);
  }

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      const redisKey = `lock:${this.space}:${key}`;
      const deadline = Date.now() + MAX_WAIT_MS;
      let pause = 10;
      for (;;) {
        const lease = await this.leases.tryAcquire(redisKey, LEASE_MS);
        if (lease) {
          try {
            return await work();
          } finally {
            await lease.release();
          }
        }
        if (Date.now() > deadline) throw new RegistryError('UNAVAILABLE', `the ${this.space} ${key.slice(0, 64)} is busy on another replica for over ${MAX_WAIT_MS / 1000} s; try again`);
        await sleep(pause);
        pause = Math.min(pause * 2, 200);
      }
    });
  }
}
