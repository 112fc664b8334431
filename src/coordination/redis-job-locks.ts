import { hostname } from 'node:os';
import type { HeldLock, JobLocks, LockHolder } from '../storage/storage-lock.js';
import type { RedisLeases } from './redis-leases.js';

/** A job's lock lives this long unrenewed: the lease is renewed at a third of it while the job runs. */
const JOB_LEASE_MS = 90_000;

/**
 * Batch jobs' locks in Redis, for replicas (and CLI runs) that share an object store, where an
 * exclusive create is not always atomic. A killed job's lock expires after JOB_LEASE_MS.
 */
export class RedisJobLocks implements JobLocks {
  constructor(private readonly leases: RedisLeases) {}

  async acquire(path: string, purpose: string): Promise<HeldLock | { heldBy: LockHolder }> {
    const holder: LockHolder = { host: hostname(), pid: process.pid, purpose, startedAt: new Date().toISOString() };
    const key = `job:${path}`;
    const lease = await this.leases.tryAcquire(key, JOB_LEASE_MS, JSON.stringify(holder));
    if (lease) return { release: () => lease.release(), lost: lease.lost };
    const found = await this.leases.holder(key);
    try {
      return { heldBy: JSON.parse(found ?? '') as LockHolder };
    } catch {
      return { heldBy: { host: 'unknown', pid: 0, purpose, startedAt: '' } };
    }
  }
}
