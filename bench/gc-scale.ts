/**
 * Garbage collection at scale (issue 13): `porthole gc --untagged` over a storage of 10,000
 * repositories (pushed through the API, one small image each; the tag of every other one deleted,
 * so that half of the images are garbage), run from the CLI beside the serving porthole as an
 * operator would. Reports the run's wall time, its peak resident memory (VmHWM, polled), and what
 * it removed; then a second run, with nothing left to remove (the cost of a gc that finds nothing).
 * Run: npm run bench:gc [-- --quick]. Prints a Markdown table.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { PORTHOLE_CLI, type PortholeProcess } from '../test/helpers/porthole-process.js';
import { raw } from '../test/helpers/raw-http.js';
import { makeImage } from '../test/helpers/registry-client.js';
import { peakResidentBytes } from './lib/process-memory.js';
import { startQuietPorthole } from './lib/quiet-porthole.js';

const quick = process.argv.includes('--quick');
const REPOSITORIES = quick ? 500 : 10_000;
const WORKERS = 16;
/** Short enough that the garbage is past it by the time gc runs. */
const GRACE = '2s';

/** Pushes the repositories; the tag of every other one is deleted afterwards (its image becomes garbage). */
async function populate(porthole: PortholeProcess): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < REPOSITORIES) {
      const index = next++;
      const repo = `bench/repo${index}`;
      await makeImage(porthole.url, repo, { tag: 'v1' });
      if (index % 2 === 1) {
        const deleted = await raw(porthole.url, { method: 'DELETE', path: `/v2/${repo}/manifests/v1` });
        if (deleted.status !== 202) throw new Error(`DELETE of ${repo}:v1 answered ${deleted.status}`);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
}

interface GcRun {
  seconds: number;
  peakBytes: number;
  line: Record<string, unknown>;
}

/** Runs `porthole gc` to its end (bounded), polling its peak RSS while it runs. */
async function runGc(root: string): Promise<GcRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [PORTHOLE_CLI, 'gc', '--root', root, '--untagged', '--grace', GRACE, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let peakBytes = 0;
  const poll = setInterval(() => {
    try {
      peakBytes = Math.max(peakBytes, peakResidentBytes(child.pid as number));
    } catch {
      // Exited between two polls.
    }
  }, 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), 30 * 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(poll);
  clearTimeout(killer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`porthole gc exited ${code}:\n${stderr}`);
  return { seconds, peakBytes, line: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown> };
}

const porthole = await startQuietPorthole();
let first: GcRun;
let second: GcRun;
try {
  const pushStarted = performance.now();
  await populate(porthole);
  const pushSeconds = (performance.now() - pushStarted) / 1000;
  console.error(`pushed ${REPOSITORIES} repositories in ${pushSeconds.toFixed(0)} s`);
  await sleep(3_000);
  first = await runGc(porthole.root);
  second = await runGc(porthole.root);
} finally {
  await porthole.dispose();
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const removed = (line: Record<string, unknown>) =>
  Object.entries(line)
    .filter(([key]) => !['action', 'outcome', 'seconds', 'dryRun', 'untagged', 'grace'].includes(key))
    .map(([key, value]) => `${key} ${String(value)}`)
    .join(', ');
console.log(`| figure (${REPOSITORIES} repositories, half of the images untagged) | wall time | peak RSS | result |`);
console.log('| --- | --- | --- | --- |');
console.log(`| porthole gc --untagged, removing the garbage | ${first.seconds.toFixed(1)} s | ${mib(first.peakBytes)} | ${removed(first.line)} |`);
console.log(`| porthole gc --untagged again, nothing to remove | ${second.seconds.toFixed(1)} s | ${mib(second.peakBytes)} | ${removed(second.line)} |`);
