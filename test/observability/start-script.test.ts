import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/free-port.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { OBSERVABILITY_DIR } from './dashboards.js';

/**
 * observability/start in its local-binaries mode (no container engine answers here): it starts
 * the Debian prometheus and prometheus-pushgateway with the repository's configuration on the
 * ports of its environment, says what it could not start, is idempotent, and stops them.
 */

const START = join(OBSERVABILITY_DIR, 'start');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(START, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, output: stdout + stderr });
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

describe('observability/start with the local binaries', { timeout: 120_000, skip: skipUnlessTools('prometheus', 'prometheus-pushgateway', 'curl') }, () => {
  let state: string | undefined;
  let env: NodeJS.ProcessEnv = {};

  after(async () => {
    // Whatever happened above, nothing is left running.
    if (state !== undefined) {
      await run(['stop'], env);
      await cleanup(state);
    }
  });

  it('starts Prometheus and the Pushgateway, says Grafana and Jaeger could not start, is idempotent, and stops them', async () => {
    state = await tempDir('observability-start');
    const [prometheusPort, pushgatewayPort] = [await freePort(), await freePort()];
    env = {
      OBSERVABILITY_ENGINE: 'local',
      OBSERVABILITY_STATE_DIR: state,
      PROMETHEUS_PORT: String(prometheusPort),
      PUSHGATEWAY_PORT: String(pushgatewayPort),
      PORTHOLE_TARGET: '127.0.0.1:5999',
      OBSERVABILITY_WAIT: '20',
    };
    const prometheus = `http://127.0.0.1:${prometheusPort}`;
    const pushgateway = `http://127.0.0.1:${pushgatewayPort}`;

    const started = await run([], env);
    assert.equal(started.code, 0, started.output);
    assert.match(started.output, /prometheus started/);
    assert.match(started.output, /pushgateway started/);
    assert.match(started.output, /NOT STARTED: Grafana/);
    assert.match(started.output, /NOT STARTED: Jaeger/);
    assert.match(started.output, /stop with: .*start stop/);
    assert.ok(await answers(`${prometheus}/-/ready`), 'Prometheus answers');
    assert.ok(await answers(`${pushgateway}/-/ready`), 'the Pushgateway answers');

    // The repository's configuration, with the targets and the gateway's port of the environment.
    const config = (await (await fetch(`${prometheus}/api/v1/status/config`)).json()) as { data: { yaml: string } };
    assert.match(config.data.yaml, /job_name: porthole\n[\s\S]*?- 127\.0\.0\.1:5999/);
    assert.match(config.data.yaml, new RegExp(`job_name: pushgateway\\n\\s+honor_labels: true[\\s\\S]*?- 127\\.0\\.0\\.1:${pushgatewayPort}`));
    const rules = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as { data: { groups: unknown[] } };
    assert.ok(rules.data.groups.length > 0, 'alerts.yml loaded');

    const again = await run([], env);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /prometheus already running/);
    assert.match(again.output, /pushgateway already running/);

    const status = await run(['status'], env);
    assert.match(status.output, /prometheus running/);

    const stopped = await run(['stop'], env);
    assert.equal(stopped.code, 0, stopped.output);
    assert.match(stopped.output, /prometheus stopped/);
    assert.match(stopped.output, /pushgateway stopped/);
    assert.equal(await answers(`${prometheus}/-/ready`), false, 'Prometheus is gone');
    assert.equal(await answers(`${pushgateway}/-/ready`), false, 'the Pushgateway is gone');
  });
});
