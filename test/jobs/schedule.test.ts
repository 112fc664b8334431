import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { makeImage } from '../helpers/registry-client.js';
import { logLinesWith } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait-for.js';

/** The order of a job's start and end lines in a log: a run never starts before the previous one ended. */
function runsInOrder(output: string, action: string): boolean {
  let open = false;
  for (const line of output.split('\n')) {
    if (line.includes(`"msg":"${action} started"`)) {
      if (open) return false;
      open = true;
    } else if (line.includes(`"msg":"${action} finished"`) || line.includes(`"msg":"${action} failed"`)) {
      open = false;
    }
  }
  return true;
}

/**
 * The end lines of the runs of a job that started after `offset` in a log: the runs that saw what
 * was there at that point (a run under way then may have listed the store before it).
 */
function runsStartedAfter(output: string, offset: number, action: string): Array<Record<string, unknown>> {
  const later = output.slice(offset);
  const firstStart = later.indexOf(`"msg":"${action} started"`);
  if (firstStart === -1) return [];
  return logLinesWith(later.slice(later.lastIndexOf('\n', firstStart) + 1), `${action} finished`);
}

/**
 * Jobs scheduled inside serve (jobs.<action>.every): they run, one run of a job at a time, show on
 * /metrics, and a scheduled backup keeps only the newest jobs.backup.keep archives.
 */
describe('batch jobs scheduled inside serve', () => {
  let work: string;
  let porthole: PortholeProcess;
  let backups: string;
  /** Where the log stood once the image was pushed: every run started after it examines the image. */
  let pushedAt: number;

  before(async () => {
    work = await tempDir('jobs-schedule');
    backups = join(work, 'backups');
    await mkdir(backups);
    porthole = await startPorthole({
      config: [
        'extensions: { metrics: { enable: true } }',
        'jobs:',
        '  gc: { every: 200ms, grace: 10m }',
        '  scrub: { every: 200ms }',
        `  backup: { every: 1100ms, to: "${join(backups, 'porthole-{date}.tar')}", keep: 2 }`,
      ].join('\n'),
    });
    await makeImage(porthole.url, 'team/app', { tag: 'v1' });
    pushedAt = porthole.output().length;
  });

  after(async () => {
    await porthole.stop();
    await cleanup(work);
  });

  it('runs each job again and again, never two runs of one job at once, and shows them on /metrics', async () => {
    // Runs that started before the push ended saw fewer blobs (or none): the scheduler starts
    // at once, while the image is still being pushed.
    const runs = (action: string) => runsStartedAfter(porthole.output(), pushedAt, action);
    await waitFor('three runs of gc and of scrub after the push', () => runs('gc').length >= 3 && runs('scrub').length >= 3, 20_000);
    for (const action of ['gc', 'scrub']) {
      assert.ok(runsInOrder(porthole.output(), action), `${action} runs overlapped:\n${porthole.output()}`);
      for (const line of logLinesWith(porthole.output(), `${action} finished`)) assert.equal(line.trigger, 'schedule');
    }
    const scrubs = runs('scrub');
    // The image's config and its layer.
    for (const scrub of scrubs) assert.equal(scrub.blobs, 2, `a scrub after the push examined the two blobs: ${JSON.stringify(scrub)}`);
    const metrics = new Exposition(await (await fetch(`${porthole.url}/metrics`)).text());
    for (const action of ['gc', 'scrub']) {
      assert.equal(metrics.value('porthole_job_success', { action }), 1, action);
      assert.equal(metrics.value('porthole_job_fail', { action }), 0, action);
      assert.ok(Math.abs((metrics.value('porthole_job_last_run_timestamp_seconds', { action }) ?? 0) - Date.now() / 1000) < 30, action);
    }
    const examined = metrics.value('porthole_job_items_total', { action: 'scrub', kind: 'blob', outcome: 'examined' }) ?? 0;
    assert.ok(examined >= 2 * scrubs.length, `the counter has every scrub's blobs: ${examined} for ${scrubs.length} runs`);
  });

  it('keeps only the newest jobs.backup.keep archives of a scheduled backup', async () => {
    await waitFor('three scheduled backups', () => logLinesWith(porthole.output(), 'backup finished').length >= 3, 20_000);
    assert.ok(runsInOrder(porthole.output(), 'backup'));
    const archives = (await readdir(backups)).filter((name) => /^porthole-\d{8}T\d{6}Z\.tar$/.test(name));
    assert.ok(archives.length >= 1 && archives.length <= 2, `archives: ${archives.join(', ')}`);
    const metrics = new Exposition(await (await fetch(`${porthole.url}/metrics`)).text());
    assert.equal(metrics.value('porthole_job_success', { action: 'backup' }), 1);
    assert.ok((metrics.value('porthole_job_repository_duration_seconds', { action: 'backup', repository: 'team/app' }) ?? -1) >= 0);
  });
});
