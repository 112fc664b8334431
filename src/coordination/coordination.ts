import type { RegistryError } from '../core/errors.js';
import { KeyedLock, type SharedLocks, type WaitListener } from '../storage/keyed-lock.js';
import type { JobLocks } from '../storage/storage-lock.js';
import { FailedLogins, type LoginLimits, type LoginLimitSettings } from '../auth/failed-logins.js';
import { noBroadcasts, type Broadcasts } from '../storage/broadcasts.js';
import { localFlights, type Flights } from './flights.js';
import { LocalValues, type SharedValues } from './shared-values.js';

/**
 * What several replicas on one storage must share, behind one interface with two
 * implementations: everything in this process (local-coordination below, the default, for one
 * porthole on its disk) or in Redis (redis-coordination.ts). The rest of porthole asks this,
 * never Redis itself.
 */
export interface Coordination {
  /** Whether the state is shared with other processes (Redis). */
  readonly shared: boolean;
  /** Connects (Redis); resolves whether or not it could: porthole serves reads without it. */
  start(): Promise<void>;
  /** Per-key locks of `space` (`upload`), across every replica. */
  keyedLocks(space: string, onWait?: WaitListener): SharedLocks;
  /** The batch jobs' locks. */
  readonly jobLocks: JobLocks;
  /** Single flight of the pull-through cache's downloads (and of the storage scan) across replicas. */
  readonly flights: Flights;
  /** Small values replicas share (the last storage scan's figures, upstream tokens). */
  readonly values: SharedValues;
  /** Messages every replica hears (repositories created elsewhere). */
  readonly broadcasts: Broadcasts;
  /** The limits on guessing passwords, counted across replicas. */
  loginLimits(settings: LoginLimitSettings): LoginLimits;
  /** Why writes must be refused now (Redis is away); undefined while they may go on. */
  writeRefusal(): RegistryError | undefined;
  close(): Promise<void>;
}

/** Everything in this process; job locks in the storage, where CLI runs beside serve see them. */
export function localCoordination(jobLocks: JobLocks): Coordination {
  return {
    shared: false,
    start: async () => undefined,
    keyedLocks: (_space, onWait) => new KeyedLock(onWait),
    jobLocks,
    flights: localFlights,
    values: new LocalValues(),
    broadcasts: noBroadcasts,
    loginLimits: (settings) => new FailedLogins(settings),
    writeRefusal: () => undefined,
    close: async () => undefined,
  };
}
