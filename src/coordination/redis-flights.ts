import type { PortholeLogger } from '../observability/logger.js';
import type { FlightLease, Flights } from './flights.js';
import { localFlights } from './flights.js';
import type { RedisLeases } from './redis-leases.js';
import type { RedisLink } from './redis-link.js';

/** A flight's lease lives this long unrenewed: a replica killed mid-download frees it this soon. */
const FLIGHT_LEASE_MS = 15_000;

/**
 * Flights as Redis leases. While Redis is away a download is not worth refusing (pulls must go
 * on): each replica then downloads for itself, as if alone.
 */
export class RedisFlights implements Flights {
  constructor(
    private readonly leases: RedisLeases,
    private readonly link: RedisLink,
    private readonly log: PortholeLogger,
  ) {}

  async take(key: string): Promise<FlightLease | undefined> {
    if (!this.link.available()) return localFlights.take(key);
    try {
      return await this.leases.tryAcquire(`flight:${key}`, FLIGHT_LEASE_MS);
    } catch (err) {
      this.log.debug({ err, key }, 'no single flight across replicas for this download: redis is away');
      return localFlights.take(key);
    }
  }

  async held(key: string): Promise<boolean> {
    if (!this.link.available()) return false;
    try {
      return (await this.link.run((client) => client.exists(`flight:${key}`))) === 1;
    } catch {
      return false;
    }
  }
}
