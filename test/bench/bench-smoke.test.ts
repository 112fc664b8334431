import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../e2e/run-command.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { requireTools } from '../helpers/tools.js';

/** The built harness: this file runs as dist/test/bench/bench-smoke.test.js. */
const HARNESS = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

/** Every figure of the issue, and what is reported beside them, by the start of its row's name. */
const FIGURES = [
  /^GET manifest by tag /,
  /^GET manifest by digest /,
  /^HEAD blob /,
  /^GET 1 MiB blob \(wrk -t2 -c32\)/,
  /^GET \d+ MiB blob \(wrk -t2 -c4\)/,
  /^skopeo push of /,
  /^skopeo pull of /,
  /^8 clients pushing different images at once/,
  /^catalog, /,
  /^tags list, /,
  /^RSS idle after start/,
  /^peak RSS under the GET load/,
  /^ingest of one /,
  /^that ingest rate as a share of one core's sha256/,
  /^cold pull through the cache /,
  /^warm pull through the cache /,
  /^load \d+ repositories through the API/,
  /^load \d+ tags of one manifest through the API/,
];

const dirs: string[] = [];
after(() => cleanup(...dirs));

/** The results table's rows, as cells (figure, porthole, distribution, ratio, target, result). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| figure |') && !line.startsWith('| ---'))
    .map((line) => line.slice(2, -2).split(' | '));
}

test('the benchmark harness, --quick, measures every figure of both registries into the given file', { timeout: 240_000 }, async (t) => {
  if (!requireTools(t, 'docker-registry', 'wrk', 'ab', 'skopeo', 'openssl', 'curl')) return;
  const dir = await tempDir('bench-smoke');
  dirs.push(dir);
  const results = join(dir, 'RESULTS.md');
  // The harness bounds itself (150 s in quick mode) and cleans up; this bound is the last resort.
  // The comparison's groups: the batch jobs' benchmarks (group jobs) are run on demand only.
  await runCommand(process.execPath, [HARNESS, '--quick', '--results', results, '--only', 'get,transfer,ingest,listing,proxy'], { timeoutMs: 200_000 });

  const markdown = await readFile(results, 'utf8');
  assert.match(markdown, /^## porthole against distribution — \d{4}-\d{2}-\d{2} \(quick run/m);
  assert.match(markdown, /^Machine: \d+ cores .*, \d+ GiB/m);
  assert.match(markdown, /^Versions: node v[\d.]+; porthole .*; docker-registry .*2\.8.*; wrk .*; skopeo \d/m);
  const rows = tableRows(markdown);
  for (const figure of FIGURES) {
    const row = rows.find((cells) => figure.test(cells[0] ?? ''));
    assert.ok(row, `a row for ${figure} in:\n${markdown}`);
    const [name, porthole, distribution, ratio] = row;
    for (const value of [porthole, distribution]) assert.match(value ?? '', /^\d+(\.\d+)? \S+$/, `a number with its unit for ${name}`);
    assert.ok(Number.isFinite(Number(ratio)) && Number(ratio) > 0, `a ratio for ${name}: ${ratio}`);
  }
  assert.equal(rows.length, FIGURES.length, 'no other rows');
});
