import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanup, startPorthole, tempDir } from '../helpers/porthole-process.js';
import { makeImage } from '../helpers/registry-client.js';
import { startPrometheus } from '../helpers/prometheus-process.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { startPushgateway, type PushgatewayProcess } from '../helpers/pushgateway-process.js';
import { runCli } from '../helpers/run-cli.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { logLinesWith } from '../helpers/service-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';

interface RunLine {
  action: string;
  outcome: string;
  seconds: number;
  pushed?: boolean;
  error?: string;
}

/**
 * The job runner, seen through `porthole prune` (the job that needs least: it only reads a
 * pull-through cache's storage, so the upstream named in the configuration is never contacted):
 * the push of each run's metrics to a real Pushgateway and Prometheus scraping it, a push that
 * fails, a failed run, the lock that keeps runs of one job apart across processes, the audit line.
 */
describe('batch jobs: the runner, the Pushgateway and the lock', { skip: skipUnlessTools('prometheus-pushgateway', 'prometheus', 'htpasswd') }, () => {
  let work: string;
  let gateway: PushgatewayProcess;

  /** A configuration file for a pull-through cache on `root` (nothing listens at the upstream's port). */
  async function configFile(name: string, root: string, extra: string[] = []): Promise<string> {
    const file = join(work, `${name}.yaml`);
    const lines = [`storage: { rootDirectory: "${root}" }`, `log: { audit: "${join(work, `${name}-audit.log`)}" }`, 'proxy:', '  upstreams:', '    - { name: up.local, url: "http://127.0.0.1:9" }', ...extra];
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  }

  function runLine(stdout: string): RunLine {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as RunLine;
  }

  before(async () => {
    work = await tempDir('jobs-runner');
    gateway = await startPushgateway();
  });

  after(async () => {
    await gateway.dispose();
    await cleanup(work);
  });

  it('pushes each run to the Pushgateway, grouped by job, instance and action, and Prometheus scrapes it with honor_labels', async () => {
    const root = join(work, 'pushed');
    const result = await runCli(['prune', '--config', await configFile('pushed', root), '--pushgateway', gateway.url]);
    assert.equal(result.code, 0, result.stderr);
    const line = runLine(result.stdout);
    assert.equal(line.action, 'prune');
    assert.equal(line.outcome, 'success');
    assert.equal(line.pushed, true);

    const group = { job: 'porthole', instance: hostname(), action: 'prune' };
    const pushed = await gateway.metrics();
    assert.equal(pushed.value('porthole_job_success', group), 1);
    assert.equal(pushed.value('porthole_job_fail', group), 0);
    const lastRun = pushed.value('porthole_job_last_run_timestamp_seconds', group) ?? 0;
    assert.ok(Math.abs(lastRun - Date.now() / 1000) < 60, `last run at ${lastRun}`);
    assert.equal(pushed.value('porthole_job_last_success_timestamp_seconds', group), lastRun);
    assert.ok((pushed.value('porthole_job_duration_seconds', group) ?? -1) >= 0);
    assert.equal(pushed.value('porthole_job_items_total', { ...group, kind: 'manifest', outcome: 'removed' }), 0);
    // The gateway's own record of the push: exactly one group for this action.
    assert.equal(pushed.find('push_time_seconds', group).length, 1);

    const prometheus = await startPrometheus({ targets: [{ job: 'pushgateway', target: gateway.target, honorLabels: true }] });
    try {
      const series = `porthole_job_success{action="prune",instance="${hostname()}"}`;
      await waitFor('Prometheus to have the pushed run', async () => (await prometheus.query(series)).length > 0, 15_000);
      const [sample] = await prometheus.query(series);
      assert.equal(sample?.value, 1);
      // honor_labels: the pushed job label, not the scrape job's.
      assert.equal(sample?.labels.job, 'porthole');
      assert.equal(sample?.labels.instance, hostname());
    } finally {
      await prometheus.dispose();
    }
  });

  it('pushes a failed run too, as porthole_job_fail 1, and exits 1', async () => {
    const root = join(work, 'failing');
    await mkdir(root, { recursive: true });
    // A file where the lock directory goes: the run cannot take its lock, and fails.
    await writeFile(join(root, 'jobs'), 'not a directory');
    const result = await runCli(['prune', '--config', await configFile('failing', root, ['jobs: { pushgateway: { groupingKey: { instance: failing-host } } }']), '--pushgateway', gateway.url]);
    assert.equal(result.code, 1, result.stderr);
    const line = runLine(result.stdout);
    assert.equal(line.outcome, 'failure');
    assert.equal(line.pushed, true);
    assert.match(line.error ?? '', /ENOTDIR|EEXIST/);
    const group = { job: 'porthole', instance: 'failing-host', action: 'prune' };
    const pushed = await gateway.metrics();
    assert.equal(pushed.value('porthole_job_fail', group), 1);
    assert.equal(pushed.value('porthole_job_success', group), 0);
    assert.equal(pushed.value('porthole_job_last_success_timestamp_seconds', group), undefined, 'a failed run sets no last success');
    const audit = (await readFile(join(work, 'failing-audit.log'), 'utf8')).trim().split('\n').map((text) => JSON.parse(text) as { action: string; outcome: string; subject: string });
    assert.deepEqual(audit.map(({ action, outcome, subject }) => ({ action, outcome, subject })), [{ action: 'job.prune', outcome: 'failure', subject: 'porthole' }]);
  });

  it('logs and counts a push the gateway does not take, and the job still succeeds', async () => {
    const root = join(work, 'unpushed');
    const secured = await startPushgateway({ basicAuth: { username: 'pusher', password: 'right-secret' } });
    try {
      const wrong = await configFile('wrong-password', root, [`jobs: { pushgateway: { url: "${secured.url}", username: pusher, password: wrong-secret } }`]);
      const refused = await runCli(['prune', '--config', wrong]);
      assert.equal(refused.code, 0, refused.stderr);
      assert.equal(runLine(refused.stdout).pushed, false);
      const [warning] = logLinesWith(refused.stderr, 'job metrics not pushed: the Pushgateway did not take them');
      assert.match(String(warning?.err), /401/);
      assert.ok(!refused.stderr.includes('wrong-secret'), 'the password is never logged');

      const right = await configFile('right-password', root, [`jobs: { pushgateway: { url: "${secured.url}", username: pusher, password: right-secret } }`]);
      const accepted = await runCli(['prune', '--config', right]);
      assert.equal(runLine(accepted.stdout).pushed, true, accepted.stderr);
      assert.equal((await secured.metrics()).value('porthole_job_success', { action: 'prune' }), 1);

      await secured.stop();
      const down = await runCli(['prune', '--config', right]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(runLine(down.stdout).pushed, false);
    } finally {
      await secured.dispose();
    }

    // Inside serve, scheduled runs count what the gateway did not take.
    const serving = await startPorthole({
      root,
      config: [
        'extensions: { metrics: { enable: true } }',
        'proxy:',
        '  upstreams:',
        '    - { name: up.local, url: "http://127.0.0.1:9" }',
        '  prune: { enabled: true, every: 200ms }',
        `jobs: { pushgateway: { url: "${secured.url}", timeout: 1s } }`,
      ].join('\n'),
    });
    try {
      await waitFor('a scheduled prune whose push fails', () => serving.output().includes('job metrics not pushed'), 15_000);
      const metrics = new Exposition(await (await fetch(`${serving.url}/metrics`)).text());
      assert.ok((metrics.value('porthole_pushgateway_push_errors_total', { action: 'prune' }) ?? 0) >= 1);
      assert.equal(metrics.value('porthole_job_success', { action: 'prune' }), 1);
      assert.ok((metrics.value('porthole_audit_events_total', { action: 'job.prune', outcome: 'success' }) ?? 0) >= 1);
    } finally {
      await serving.stop();
    }
  });

  it('never runs a job while another process runs it, and takes over the lock of one that died', async () => {
    const root = join(work, 'locked');
    const file = await configFile('locked', root);
    // A live process of this host "holds" prune's lock, as a prune in another porthole would.
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await mkdir(join(root, 'jobs'), { recursive: true });
      const lockFile = join(root, 'jobs', 'prune.lock');
      await writeFile(lockFile, JSON.stringify({ host: hostname(), pid: holder.pid, purpose: 'prune', startedAt: new Date().toISOString() }));
      const busy = await runCli(['prune', '--config', file]);
      assert.equal(busy.code, 3, busy.stderr);
      assert.equal(runLine(busy.stdout).outcome, 'skipped');
      assert.match(busy.stderr, new RegExp(`another run holds its lock \\(pid ${holder.pid} on `));

      const serving = await startPorthole({
        root,
        config: ['extensions: { metrics: { enable: true } }', 'proxy:', '  upstreams:', '    - { name: up.local, url: "http://127.0.0.1:9" }', '  prune: { enabled: true, every: 200ms }'].join('\n'),
      });
      try {
        await waitFor('a scheduled prune to find the lock held', () => serving.output().includes('prune not run: another run holds its lock'), 15_000);
        assert.ok(!serving.output().includes('"msg":"prune started"'), 'no run while the lock is held');
        holder.kill('SIGKILL');
        await waitFor('a scheduled prune once the holder is gone', () => serving.output().includes('"msg":"prune finished"'), 15_000);
      } finally {
        await serving.stop();
      }
      assert.ok(!existsSync(lockFile), 'the lock is released after the run');
      const after = await runCli(['prune', '--config', file]);
      assert.equal(after.code, 0, after.stderr);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('traces every run as the root of a trace of its own, whatever samplingProb says for requests', async () => {
    // The test's own OTLP/HTTP receiver stands in for a collector (there is no Jaeger or collector package here).
    const receiver = await startOtlpReceiver();
    try {
      const root = join(work, 'traced');
      const file = await configFile('traced', root, [`tracing: { enable: true, endpoint: "${receiver.url}", samplingProb: 0 }`]);
      const result = await runCli(['prune', '--config', file, '--dry-run']);
      assert.equal(result.code, 0, result.stderr);
      const [span] = receiver.spans().filter((received) => received.name === 'job.prune');
      assert.ok(span, `a job.prune span, among ${receiver.spans().map((received) => received.name).join(', ')}`);
      assert.equal(span.parentSpanId, undefined);
      assert.equal(span.attributes['porthole.job'], 'prune');
      assert.equal(span.attributes['porthole.trigger'], 'cli');
      assert.equal(span.attributes['porthole.dry_run'], true);
      assert.equal(span.attributes['porthole.result.manifests'], 0);
      assert.equal(span.status.code, 0);
      const children = receiver.spans().filter((received) => received.traceId === span.traceId && received.parentSpanId === span.spanId);
      assert.ok(children.some((child) => child.name === 'storage.listRepositories'), `children: ${children.map((child) => child.name).join(', ')}`);
    } finally {
      await receiver.close();
    }
  });

  it('pushes every job run from the CLI: gc, scrub, backup and restore, each to its own group', async () => {
    const root = join(work, 'every-job');
    const serving = await startPorthole({ root });
    try {
      await makeImage(serving.url, 'team/app', { tag: 'v1' });
    } finally {
      await serving.stop();
    }
    const archive = join(work, 'every-job.tar');
    const runs: Array<[string, string[]]> = [
      ['gc', ['gc', '--root', root]],
      ['scrub', ['scrub', '--root', root]],
      ['backup', ['backup', '--root', root, '--to', archive]],
      ['restore', ['restore', '--root', join(work, 'every-job-restored'), '--from', archive]],
    ];
    for (const [action, args] of runs) {
      const result = await runCli([...args, '--pushgateway', gateway.url]);
      assert.equal(result.code, 0, `${action}: ${result.stderr}`);
      assert.equal(runLine(result.stdout).pushed, true, action);
    }
    const pushed = await gateway.metrics();
    for (const [action] of runs) assert.equal(pushed.value('porthole_job_success', { job: 'porthole', instance: hostname(), action }), 1, action);
    assert.equal(pushed.value('porthole_job_items_total', { action: 'scrub', kind: 'blob', outcome: 'examined' }), 2, 'the config and the layer');
    assert.ok((pushed.value('porthole_job_bytes_total', { action: 'backup', outcome: 'written' }) ?? 0) > 0);
    assert.ok((pushed.value('porthole_job_repository_duration_seconds', { action: 'restore', repository: 'team/app' }) ?? -1) >= 0);
  });
});
