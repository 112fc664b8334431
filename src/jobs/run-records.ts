import { randomBytes } from 'node:crypto';
import type { Driver } from '../storage/driver.js';
import { layout } from '../storage/layout.js';
import type { JobRunRecord } from './job-history.js';
import { parseJsonObject } from '../runtime/json-object.js';

/** Records kept in the storage: a job every minute still leaves most of a day of history. */
export const MAX_RUN_RECORDS = 1000;

/** `<ended ms, 13 digits>-<action>-<8 hex>.json`: names sort as the runs ended (until the year 2286). */
const RECORD_NAME = /^\d{13}-[a-z]+-[0-9a-f]{8}\.json$/;

const OUTCOMES: ReadonlySet<string> = new Set(['success', 'failure', 'skipped']);

function recordName(record: JobRunRecord): string {
  const ended = Date.parse(record.endedAt);
  return `${String(Number.isFinite(ended) ? ended : Date.now()).padStart(13, '0')}-${record.action}-${randomBytes(4).toString('hex')}.json`;
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** A stored record as this version reads it; undefined for a file that is not one (truncated by hand, another version's). */
function parseRecord(bytes: Buffer): JobRunRecord | undefined {
  const record = parseJsonObject(bytes);
  if (record === undefined) return undefined;
  const strings = ['action', 'trigger', 'startedAt', 'endedAt'].every((key) => typeof record[key] === 'string');
  const summary = record.summary;
  const summaryOk = typeof summary === 'object' && summary !== null && !Array.isArray(summary) && Object.values(summary).every(isScalar);
  if (!strings || typeof record.seconds !== 'number' || !OUTCOMES.has(String(record.outcome)) || !summaryOk) return undefined;
  if (record.error !== undefined && typeof record.error !== 'string') return undefined;
  return record as unknown as JobRunRecord;
}

/**
 * The history of job runs kept in the storage (`jobs/history/`), one small JSON file per run,
 * so that every porthole on the storage lists the runs of all of them: serve's scheduled runs and
 * `porthole gc`, `scrub`... run by the CLI as processes of their own. Written through the Driver
 * like everything else in the storage, so that it works the same on any driver.
 */
export class JobRunRecords {
  /** Records are never rewritten, so each file is read once: its name maps to what it held (null: not a record). */
  private readonly read = new Map<string, JobRunRecord | null>();

  constructor(
    private readonly driver: Driver,
    private readonly keep = MAX_RUN_RECORDS,
  ) {}

  /** Stores a run's record, then removes the oldest beyond the newest `keep`. */
  async add(record: JobRunRecord): Promise<void> {
    await this.driver.writeAtomic(layout.jobRun(recordName(record)), JSON.stringify(record));
    const names = await this.names();
    // Two processes trimming at once remove the same files: removing an absent one is no error.
    for (const name of names.slice(this.keep)) await this.driver.remove(layout.jobRun(name));
  }

  /** The newest `limit` runs, newest first. */
  async list(limit: number): Promise<JobRunRecord[]> {
    const names = await this.names();
    const listed = new Set(names);
    for (const name of this.read.keys()) if (!listed.has(name)) this.read.delete(name);
    const records: JobRunRecord[] = [];
    for (const name of names) {
      if (records.length >= limit) break;
      let record = this.read.get(name);
      if (record === undefined) {
        const bytes = await this.driver.read(layout.jobRun(name));
        // Removed since the listing (trimmed by another process): not cached, it is gone.
        if (bytes === undefined) continue;
        record = parseRecord(bytes) ?? null;
        this.read.set(name, record);
      }
      if (record !== null) records.push(record);
    }
    return records;
  }

  /** Record file names, newest first. */
  private async names(): Promise<string[]> {
    return (await this.driver.list(layout.jobRunsDir())).filter((name) => RECORD_NAME.test(name)).sort().reverse();
  }
}
