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
  ) {}

  take(key: string): Promise<FlightLease | undefined> {
    return this.link.attempt(
      () => this.leases.tryAcquire(`flight:${key}`, FLIGHT_LEASE_MS),
      () => localFlights.take(key),
    );
  }

  held(key: string): Promise<boolean> {
    return this.link.attempt(
      async () => (await this.link.run((client) => client.exists(`flight:${key}`))) === 1,
      () => false,
    );
  }
}
