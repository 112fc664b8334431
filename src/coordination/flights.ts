/** A download claimed for this replica; released when it ends, whatever its outcome. */
export interface FlightLease {
  release(): Promise<void>;
}

/**
 * Single flight of downloads across replicas: whoever takes a key's flight downloads; the others
 * wait while it is held, then read what it stored. A holder that dies lets the flight go by
 * itself (a lease that is no longer renewed), so a waiter never waits on a dead replica for long.
 */
export interface Flights {
  /** Takes the flight for `key`; undefined while another replica holds it. */
  take(key: string): Promise<FlightLease | undefined>;
  /** Whether some replica holds the flight for `key` now. */
  held(key: string): Promise<boolean>;
}

const NOTHING_TO_RELEASE: FlightLease = { release: async () => undefined };

/** One process alone: every flight is its own (its downloads are shared within it by the pull-through cache). */
export const localFlights: Flights = {
  take: async () => NOTHING_TO_RELEASE,
  held: async () => false,
};
