/**
 * Is porthole-bench's load generator the bottleneck of what it measures (issue 16)? nginx serves
 * the same bytes as static files, and the same blob URL is read at the same concurrency by `wrk`
 * and by porthole-bench's own runner: runTest with the threads porthole-bench takes by default,
 * so its worker threads (each with its own connections), the shared operation counter and the
 * merged figures are all in what is measured. Its operation is a blob GET as a pull makes it
 * (getBlob: RegistrySession.send, the body counted chunk by chunk and dropped; bench/lib/ceiling-tests.ts).
 * Target: porthole-bench's bytes per second at least 80% of wrk's.
 *
 * Threads, on both sides: min(available cores, connections). wrk gets that as -t; porthole-bench
 * as --threads (the value it takes when --threads is not given), so its `connections` clients are
 * spread over as many worker threads as wrk spreads its connections over its threads.
 *
 * wrk runs for a fixed time; porthole-bench runs -n operations, -n being what wrk's rate in the
 * same round moves in that time (porthole-bench's run lasts longer when it is slower). Samples
 * alternate (wrk, porthole-bench, wrk, ...) and each ratio is the median of the rounds' ratios,
 * so that what else the machine does falls on both alike.
 *
 * Run: npm run bench:tool [-- --quick]. Prints a Markdown table; nginx and its files are removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { ProgressLine } from '../src/loadgen/progress.js';
import { RegistrySession } from '../src/loadgen/registry-session.js';
import { runTest } from '../src/loadgen/runner.js';
import { TestData } from '../src/loadgen/test-data.js';
import { slug } from '../src/loadgen/test-plan.js';
import { defaultThreads } from '../src/loadgen/threads.js';
import { cleanup, tempDir } from '../test/helpers/porthole-process.js';
import { CEILING_BLOB, TESTS } from './lib/ceiling-tests.js';
import { startNginx } from './lib/nginx.js';
import { median } from './lib/stats.js';
import { Teardown } from './lib/teardown.js';
import { runWrk } from './lib/wrk.js';

const MIB = 1024 * 1024;
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const SECONDS = quick ? 3 : 8;
const TARGET = 0.8;
const BASE_REPO = 'ceiling';
const TESTS_MODULE = new URL('./lib/ceiling-tests.js', import.meta.url).href;
/** The figures: a blob size and the concurrency both clients use. */
const CASES = [
  { label: '1 MiB blob, 16 connections', test: 'Blob GET 1MB', bytes: MIB, connections: 16 },
  { label: '10 MiB blob, 4 connections', test: 'Blob GET 10MB', bytes: 10 * MIB, connections: 4 },
];

function blobPath(test: string): string {
  return `v2/${BASE_REPO}/${slug(test)}/blobs/${CEILING_BLOB}`;
}

/** porthole-bench's runner: `requests` blob GETs by `connections` clients over `threads` worker threads; bytes received per second. */
async function benchToolRate(url: string, testName: string, connections: number, threads: number, requests: number, data: TestData): Promise<number> {
  const test = TESTS.find((each) => each.name === testName);
  if (!test) throw new Error(`no test ${testName}`);
  const session = new RegistrySession({ url, credentials: undefined, timeoutMs: 30_000, connections: connections + 4, tls: { rejectUnauthorized: true }, userAgent: 'porthole-bench-ceiling' });
  try {
    const result = await runTest(test, session, {
      requests,
      concurrency: connections,
      threads,
      skipCleanup: true,
      baseRepo: BASE_REPO,
      upstream: undefined,
      upstreamNamespace: '',
      data,
      progress: new ProgressLine(process.stderr),
      testModule: TESTS_MODULE,
    });
    if (result.outcome !== 'completed' || result.failed > 0) throw new Error(`porthole-bench: ${result.outcome} ${result.reason ?? ''} ${JSON.stringify(result.errors)}`);
    if (result.bytesReceived !== requests * (CASES.find((each) => each.test === testName)?.bytes ?? 0)) throw new Error(`porthole-bench received ${result.bytesReceived} bytes for ${requests} GETs`);
    return result.bytesPerSecond;
  } finally {
    await session.close();
  }
}

function mibPerSecond(bytesPerSecond: number): string {
  return `${(bytesPerSecond / MIB).toFixed(0)} MiB/s`;
}

async function main(): Promise<void> {
  const teardown = new Teardown();
  teardown.armInterrupts((quick ? 2 : 10) * 60_000);
  const dir = await tempDir('bench-tool-ceiling');
  teardown.add('remove the files', () => cleanup(dir));
  try {
    const root = join(dir, 'www');
    const paths: string[] = [];
    for (const { test, bytes } of CASES) {
      const path = blobPath(test);
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), randomBytes(bytes), { mode: 0o644 });
      paths.push(path);
    }
    const data = new TestData(join(dir, 'data'), () => undefined);
    // nginx's workers (as root: user nobody) must read the files under the private temp dir.
    await chmod(dir, 0o755);
    const nginx = await startNginx(join(dir, 'nginx'), root);
    teardown.add('stop nginx', () => nginx.stop());
    console.error(`nginx on ${nginx.url}; ${ROUNDS} round(s) of ${SECONDS} s per client and figure; load before: ${loadavg()[0]?.toFixed(2)}`);
    const rows: string[] = [];
    let passed = true;
    for (const [index, { label, test, bytes, connections }] of CASES.entries()) {
      const threads = defaultThreads(connections);
      const path = paths[index] as string;
      const wrkRates: number[] = [];
      const toolRates: number[] = [];
      const ratios: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        const wrk = await runWrk(`${nginx.url}/${path}`, { threads, connections, seconds: SECONDS });
        if (wrk.non2xx > 0 || wrk.socketErrors > 0) throw new Error(`wrk saw ${wrk.non2xx} non-2xx answers and ${wrk.socketErrors} socket errors`);
        const requests = Math.max(connections * 4, Math.round((wrk.bytesPerSecond * SECONDS) / bytes));
        const tool = await benchToolRate(nginx.url, test, connections, threads, requests, data);
        wrkRates.push(wrk.bytesPerSecond);
        toolRates.push(tool);
        ratios.push(tool / wrk.bytesPerSecond);
        console.error(`${label}, ${threads} threads, round ${round + 1}: wrk ${mibPerSecond(wrk.bytesPerSecond)}, porthole-bench ${mibPerSecond(tool)} (${requests} GETs)`);
      }
      const ratio = median(ratios);
      passed &&= ratio >= TARGET;
      rows.push(`| ${label} | ${threads} | ${mibPerSecond(median(wrkRates))} | ${mibPerSecond(median(toolRates))} | ${ratio.toFixed(2)} | ≥ ${TARGET} | ${ratio >= TARGET ? 'met' : 'NOT met'} |`);
    }
    console.log(`\n## porthole-bench against wrk, nginx serving the same bytes — ${new Date().toISOString().slice(0, 10)}${quick ? ' (quick run)' : ''}\n`);
    console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); load after: ${loadavg()[0]?.toFixed(2)}; medians of ${ROUNDS} round(s) of ${SECONDS} s.\n`);
    console.log('| figure | threads (both) | wrk | porthole-bench | ratio | target | result |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const row of rows) console.log(row);
    process.exitCode = passed ? 0 : 1;
  } finally {
    await teardown.run();
  }
}

await main();
