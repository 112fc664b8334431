import type { Flights } from '../../coordination/flights.js';
import type { SharedValues } from '../../coordination/shared-values.js';
import type { StorageStats } from '../../storage/types.js';

/** A storage scan as replicas share it: its figures, when it ended, and how long the walk took. */
export interface SharedScan {
  stats: StorageStats;
  computedAtMs: number;
  seconds: number;
}

const KEY = 'storage-scan';

/**
 * One walk of a shared store for all its replicas (issue 18: the storage gauges come from one
 * walk, not N): each reporting interval, a replica that finds no scan younger than the interval
 * takes the walk's flight and publishes what it found; the others use that. A walk that another
 * replica is making leaves the gauges as they are until the next interval.
 */
export class ScanShare {
  constructor(
    private readonly flights: Flights,
    private readonly values: SharedValues,
    /** How old a published scan may be and still be used: the reporting interval. */
    private readonly freshMs: number,
  ) {}

  /** The scan to report: a recent published one, or one walked here by `walk`; undefined while another replica walks. */
  async scan(walk: () => Promise<SharedScan>): Promise<SharedScan | undefined> {
    const published = await this.published();
    if (published && Date.now() - published.computedAtMs < this.freshMs) return published;
    const turn = await this.flights.take(KEY);
    if (!turn) return undefined;
    try {
      const walked = await walk();
      // Kept well past the interval, so that a replica that misses a turn still has figures.
      await this.values.set(KEY, serialize(walked), this.freshMs * 10);
      return walked;
    } finally {
      await turn.release();
    }
  }

  private async published(): Promise<SharedScan | undefined> {
    const text = await this.values.get(KEY);
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as Omit<SharedScan, 'stats'> & { stats: Omit<StorageStats, 'repositoryBytes'> & { repositoryBytes: Array<[string, number]> } };
      return { ...parsed, stats: { ...parsed.stats, repositoryBytes: new Map(parsed.stats.repositoryBytes) } };
    } catch {
      return undefined;
    }
  }
}

function serialize(scan: SharedScan): string {
  return JSON.stringify({ ...scan, stats: { ...scan.stats, repositoryBytes: [...scan.stats.repositoryBytes] } });
}
