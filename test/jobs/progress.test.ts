import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cleanup, PORTHOLE_CLI, startPorthole, tempDir } from '../helpers/porthole-process.js';
import { makeImage } from '../helpers/registry-client.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';

const run = promisify(execFile);

/**
 * Progress of a job run: a bar on a terminal (util-linux's `script` gives the command one), none
 * when stderr is not a terminal (plain log lines instead, which a short run does not need).
 */
describe('batch jobs: progress', { skip: skipUnlessTools('script') }, () => {
  let root: string;

  before(async () => {
    root = await tempDir('jobs-progress');
    const serving = await startPorthole({ root });
    try {
      await makeImage(serving.url, 'team/app', { tag: 'v1' });
    } finally {
      await serving.stop();
    }
  });

  after(() => cleanup(root));

  it('draws a bar of items and bytes on a terminal', async () => {
    const { stdout } = await run('script', ['-qec', `${process.execPath} ${PORTHOLE_CLI} scrub --root ${root}`, '/dev/null'], { timeout: 20_000 });
    assert.match(stdout, /scrub \[=+\] 100% \| 3\/3 items \| [\d.]+ MiB of [\d.]+ MiB \| [\d.]+ MiB\/s \| ETA /);
  });

  it('draws none when stderr is no terminal', async () => {
    const result = await runCli(['scrub', '--root', root]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /\[=+\]|\u001b\[/);
  });
});
