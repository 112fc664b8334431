import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { createStorage } from '../../src/create-storage.js';
import type { JobRunRecord } from '../../src/jobs/job-history.js';
import type { Job } from '../../src/jobs/job.js';
import { JobRunRecords } from '../../src/jobs/run-records.js';
import { JobRunner } from '../../src/jobs/runner.js';
import { disabledAuditor } from '../../src/observability/audit.js';
import { disabledTracing } from '../../src/observability/tracing/tracing.js';
import type { Driver } from '../../src/storage/driver.js';
import { FilesystemDriver } from '../../src/storage/filesystem/fs-driver.js';
import { memoryLogger } from '../helpers/memory-logger.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

/** The records of job runs in the storage (jobs/history/), which the management API lists. */
describe('job run records in the storage', () => {
  let work = '';

  before(async () => {
    work = await tempDir('run-records');
  });
  after(async () => {
    await cleanup(work);
  });

  const run = (action: JobRunRecord['action'], endedMs: number, extra: Partial<JobRunRecord> = {}): JobRunRecord => ({
    action,
    trigger: 'cli',
    startedAt: new Date(endedMs - 500).toISOString(),
    endedAt: new Date(endedMs).toISOString(),
    seconds: 0.5,
    outcome: 'success',
    summary: { n: endedMs % 1000, dryRun: true, grace: '1h' },
    ...extra,
  });

  it('lists the newest first, keeps only the newest `keep`, and skips a file that is no record', async () => {
    const driver = new FilesystemDriver(join(work, 'kept'));
    await driver.init();
    const records = new JobRunRecords(driver, 3);
    const base = Date.UTC(2030, 0, 1);
    // Written out of order: the listing goes by when each ended.
    for (const offset of [3, 1, 4, 2, 5]) await records.add(run(offset % 2 === 0 ? 'scrub' : 'gc', base + offset * 1000));
    const listed = await records.list(10);
    assert.deepEqual(listed.map((record) => Date.parse(record.endedAt) - base), [5000, 4000, 3000]);
    assert.equal((await readdir(join(work, 'kept', 'jobs', 'history'))).length, 3, 'the older two were removed');
    assert.deepEqual((await records.list(2)).map((record) => record.action), ['gc', 'scrub']);

    // A newer file cut short (by hand, by another version): skipped, the rest still listed.
    await writeFile(join(work, 'kept', 'jobs', 'history', `${String(base + 9000).padStart(13, '0')}-gc-0badf00d.json`), '{"action": "gc", "trig');
    assert.deepEqual((await records.list(2)).map((record) => Date.parse(record.endedAt) - base), [5000, 4000]);
    // Another reader (serve beside the CLI) sees the same.
    assert.deepEqual(await new JobRunRecords(driver).list(3), listed);
  });

  it('a record that cannot be written is logged and the run keeps its outcome', async () => {
    const config = validateConfig({ storage: { rootDirectory: join(work, 'unwritable') } });
    const logged = memoryLogger('warn');
    const storage = await createStorage(config, { log: logged.logger });
    await storage.store.init();
    const refusing: Driver = Object.create(storage.driver) as Driver;
    refusing.writeAtomic = async (path, data, options) => {
      if (path.startsWith('jobs/history/')) throw Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
      return storage.driver.writeAtomic(path, data, options);
    };
    const runner = new JobRunner({ storage: { ...storage, driver: refusing }, log: logged.logger, auditor: disabledAuditor, tracing: disabledTracing });
    const job: Job = { action: 'gc', settings: {}, run: async () => ({ summary: { removed: 0 } }) };
    const record = await runner.run(job, 'cli');
    assert.equal(record.outcome, 'success');
    assert.deepEqual(runner.history.list().map((kept) => kept.outcome), ['success'], 'still in the history in memory');
    const warning = logged.lines.find((line) => line.msg === 'gc: the record of this run could not be written to the storage');
    assert.ok(warning, JSON.stringify(logged.lines));
    assert.deepEqual(await runner.records.list(10), []);
  });

  it('a run by one runner is listed by another on the same storage', async () => {
    const config = validateConfig({ storage: { rootDirectory: join(work, 'shared') } });
    const logged = memoryLogger('warn');
    const [one, other] = await Promise.all([createStorage(config, { log: logged.logger }), createStorage(config, { log: logged.logger })]);
    await one.store.init();
    const runner = new JobRunner({ storage: one, log: logged.logger, auditor: disabledAuditor, tracing: disabledTracing });
    const ran = await runner.run({ action: 'scrub', settings: {}, run: async () => ({ failed: true, summary: { corrupt: 1 } }) }, 'schedule');
    const [listed] = await new JobRunRecords(other.driver).list(1);
    assert.deepEqual(listed, ran);
    assert.equal(listed?.outcome, 'failure');
  });
});
