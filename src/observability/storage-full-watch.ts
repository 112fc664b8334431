import { isStorageFull } from '../storage/storage-full.js';
import type { PortholeLogger } from './logger.js';

/** Driver operations that need room; one of them succeeding shows there is room again. */
const WRITES = new Set(['writeAtomic', 'writeStreamAt', 'writerAppend', 'writerCommit', 'commit']);
/** A full disk fails every push: one line a minute says so without flooding the log. */
const LOG_INTERVAL_MS = 60_000;

/**
 * Watches storage operations for a full disk (ENOSPC, EDQUOT): sets porthole_storage_full while
 * writes fail for lack of room, and logs it at most once a minute, instead of one error line per
 * failed request (those are answered 507 STORAGE_FULL by the error writer). A nearly full disk
 * flaps (a small write fits, the next large one does not): the gauge follows each write, the log
 * does not, so the limit holds across such flaps.
 */
export class StorageFullWatch {
  private full = false;
  private lastLogged = Number.NEGATIVE_INFINITY;
  private failuresSinceLogged = 0;
  /** Whether a "full" line was written since the last "room again" line. */
  private fullLogged = false;

  constructor(
    private readonly gauge: { set(value: number): void },
    private readonly log: PortholeLogger,
    private readonly now: () => number = Date.now,
  ) {
    gauge.set(0);
  }

  observe(operation: string, failure: unknown): void {
    if (isStorageFull(failure)) this.filled(operation, failure);
    else if (failure === undefined && this.full && WRITES.has(operation)) this.roomAgain();
  }

  private filled(operation: string, failure: unknown): void {
    if (!this.full) this.gauge.set(1);
    this.full = true;
    this.failuresSinceLogged += 1;
    const now = this.now();
    if (now - this.lastLogged < LOG_INTERVAL_MS) return;
    this.log.error({ operation, code: (failure as NodeJS.ErrnoException).code, failures: this.failuresSinceLogged }, 'storage is full: writes are refused with 507');
    this.lastLogged = now;
    this.failuresSinceLogged = 0;
    this.fullLogged = true;
  }

  private roomAgain(): void {
    this.full = false;
    this.gauge.set(0);
    if (!this.fullLogged) return;
    this.fullLogged = false;
    this.log.info('storage has room again');
  }
}
