import type { RedisConfig } from '../config/redis-schema.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { WaitListener } from '../storage/keyed-lock.js';
import type { Coordination } from './coordination.js';
import { RedisBroadcasts } from './redis-broadcasts.js';
import { RedisFlights } from './redis-flights.js';
import { RedisJobLocks } from './redis-job-locks.js';
import { RedisLoginLimits } from './redis-login-limits.js';
import type { LoginLimitSettings } from '../auth/failed-logins.js';
import { RedisValues } from './redis-values.js';
import { RedisLeases } from './redis-leases.js';
import { RedisLink } from './redis-link.js';
import { RedisKeyedLocks } from './redis-keyed-locks.js';

/** Coordination through Redis, for replicas that share an object store. */
export class RedisCoordination implements Coordination {
  readonly shared = true;
  readonly link: RedisLink;
  readonly leases: RedisLeases;
  readonly jobLocks: RedisJobLocks;
  readonly flights: RedisFlights;
  readonly values: RedisValues;
  readonly broadcasts: RedisBroadcasts;

  constructor(config: RedisConfig, log: PortholeLogger) {
    this.link = new RedisLink(config, log);
    this.leases = new RedisLeases(this.link);
    this.jobLocks = new RedisJobLocks(this.leases);
    this.flights = new RedisFlights(this.leases, this.link);
    this.values = new RedisValues(this.link);
    this.broadcasts = new RedisBroadcasts(this.link, config.keyPrefix, log);
  }

  async start(): Promise<void> {
    await Promise.all([this.link.connect(), this.broadcasts.start()]);
  }

  loginLimits(settings: LoginLimitSettings): RedisLoginLimits {
    return new RedisLoginLimits(this.link, settings);
  }

  keyedLocks(space: string, onWait?: WaitListener): RedisKeyedLocks {
    return new RedisKeyedLocks(this.leases, space, onWait);
  }

  writeRefusal() {
    return this.link.available() ? undefined : this.link.unavailable();
  }

  close(): Promise<void> {
    this.broadcasts.close();
    return this.link.close();
  }
}
