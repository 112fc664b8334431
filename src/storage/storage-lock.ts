import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Driver } from './driver.js';

/** Who holds a lock, as written in it. */
export interface LockHolder {
  host: string;
  pid: number;
  /** What holds it (`gc`, `scrub`, ...), for the message of whoever finds it taken. */
  purpose: string;
  startedAt: string;
}

/** A lock that is held; release() lets it go (once). */
export interface HeldLock {
  release(): Promise<void>;
  /** Aborted if the lock is lost while held (a lease that could not be renewed): the job must stop. */
  readonly lost?: AbortSignal;
}

/** The locks batch jobs take so that two runs of one job never overlap: in the storage (StorageLocks) or in Redis. */
export interface JobLocks {
  /** Takes the lock at `path`, or says who holds it. */
  acquire(path: string, purpose: string): Promise<HeldLock | { heldBy: LockHolder }>;
}

/** The holder refreshes its lock this often... */
const HEARTBEAT_MS = 30_000;
/** ...so a lock not refreshed for this long belongs to a process that is gone (killed, host down). */
const STALE_MS = 5 * 60_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(bytes: Buffer | undefined): LockHolder | undefined {
  if (!bytes) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Locks kept in the storage itself, so that every porthole on the same storage (other replicas,
 * a CLI run beside serve) sees them: batch jobs take one so that two runs of the same job never
 * overlap. A lock whose holder died is taken over: on the same host when its process is gone, on
 * any host when it was not refreshed for STALE_MS.
 */
export class StorageLocks implements JobLocks {
  constructor(
    private readonly driver: Driver,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes the lock at `path`, or says who holds it. */
  async acquire(path: string, purpose: string): Promise<HeldLock | { heldBy: LockHolder }> {
    const holder: LockHolder = { host: hostname(), pid: process.pid, purpose, startedAt: new Date(this.now()).toISOString() };
    const text = JSON.stringify(holder);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if (await this.driver.createExclusive(path, text)) return this.held(path, text);
      const found = await this.driver.read(path);
      const current = holderOf(found);
      if (found === undefined) continue; // released meanwhile: try again
      if (current && !(await this.isStale(path, current))) return { heldBy: current };
      await this.takeOver(path, found);
    }
    const current = holderOf(await this.driver.read(path));
    return { heldBy: current ?? { host: 'unknown', pid: 0, purpose, startedAt: '' } };
  }

  private async isStale(path: string, holder: LockHolder): Promise<boolean> {
    if (holder.host === hostname() && holder.pid !== process.pid && !isAlive(holder.pid)) return true;
    const info = await this.driver.stat(path);
    return info !== undefined && this.now() - info.modifiedMs > STALE_MS;
  }

  /**
   * Moves a dead holder's lock aside, checking that what moved is the lock found dead: another
   * process may have taken it over between the read and the move, and its lock goes back.
   */
  private async takeOver(path: string, dead: Buffer): Promise<void> {
    const aside = `${path}.stale-${randomUUID()}`;
    try {
      await this.driver.move(path, aside);
    } catch {
      return; // gone already
    }
    const moved = await this.driver.read(aside);
    if (moved && !moved.equals(dead)) await this.driver.move(aside, path).catch(() => undefined);
    else await this.driver.remove(aside);
  }

  private held(path: string, text: string): HeldLock {
    let released = false;
    // Refreshed (rewritten, which renews its modification time) while held.
    const heartbeat = setInterval(() => {
      void this.driver.writeAtomic(path, text, { durable: false }).catch(() => undefined);
    }, HEARTBEAT_MS);
    heartbeat.unref();
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(heartbeat);
        // Only our own: a lock taken over after we were presumed dead is not ours to remove.
        const current = await this.driver.read(path);
        if (current?.toString('utf8') === text) await this.driver.remove(path);
      },
    };
  }
}
