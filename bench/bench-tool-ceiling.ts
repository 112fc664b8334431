/**
 * Is porthole-bench's load generator the bottleneck of what it measures (issue 16)? nginx serves
 * the same bytes as static files, and the same blob URL is read for the same time at the same
 * concurrency by `wrk` and by porthole-bench's own request path (RegistrySession.send over its
 * undici Agent, each body drained by counting its chunks: the path every blob GET of a pull
 * takes). Target: porthole-bench's bytes per second at least 80% of wrk's.
 *
 * Samples alternate (wrk, porthole-bench, wrk, ...) and each ratio is the median of the rounds'
 * ratios, so that what else the machine does falls on both alike.
 *
 * Run: npm run bench:tool [-- --quick]. Prints a Markdown table; nginx and its files are removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Recorder } from '../src/loadgen/recorder.js';
import { RegistrySession } from '../src/loadgen/registry-session.js';
import { cleanup, tempDir } from '../test/helpers/porthole-process.js';
import { startNginx } from './lib/nginx.js';
import { median } from './lib/stats.js';
import { Teardown } from './lib/teardown.js';
import { runWrk } from './lib/wrk.js';

const MIB = 1024 * 1024;
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const SECONDS = quick ? 3 : 8;
const TARGET = 0.8;
/** The figures: a blob size and the concurrency both clients use. */
const CASES = [
  { label: '1 MiB blob, 16 connections', bytes: MIB, connections: 16 },
  { label: '10 MiB blob, 4 connections', bytes: 10 * MIB, connections: 4 },
];

/** porthole-bench's blob GET path for `seconds`, `connections` clients: bytes received per second. */
async function benchToolRate(url: string, path: string, connections: number, seconds: number): Promise<number> {
  const session = new RegistrySession({ url, credentials: undefined, timeoutMs: 30_000, connections, tls: { rejectUnauthorized: true }, userAgent: 'porthole-bench-ceiling' });
  const recorder = new Recorder();
  try {
    // One request per connection first, so that both clients start with their connections open.
    await Promise.all(Array.from({ length: connections }, () => session.send({ method: 'GET', target: path, scope: '', what: 'GET blob', expect: [200] }, new Recorder())));
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const client = async (): Promise<void> => {
      while (performance.now() < deadline) await session.send({ method: 'GET', target: path, scope: '', what: 'GET blob', expect: [200] }, recorder);
    };
    await Promise.all(Array.from({ length: connections }, client));
    return recorder.bytesReceived / ((performance.now() - started) / 1000);
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
    for (const { bytes } of CASES) {
      const path = `v2/ceiling/blobs/random-${bytes}`;
      await mkdir(join(root, 'v2/ceiling/blobs'), { recursive: true });
      await writeFile(join(root, path), randomBytes(bytes), { mode: 0o644 });
      paths.push(path);
    }
    // nginx's workers (as root: user nobody) must read the files under the private temp dir.
    await chmod(dir, 0o755);
    const nginx = await startNginx(join(dir, 'nginx'), root);
    teardown.add('stop nginx', () => nginx.stop());
    console.error(`nginx on ${nginx.url}; ${ROUNDS} round(s) of ${SECONDS} s per client and figure; load before: ${loadavg()[0]?.toFixed(2)}`);
    const rows: string[] = [];
    let passed = true;
    for (const [index, { label, connections }] of CASES.entries()) {
      const path = paths[index] as string;
      const wrkRates: number[] = [];
      const toolRates: number[] = [];
      const ratios: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        const wrk = await runWrk(`${nginx.url}/${path}`, { threads: Math.min(2, connections), connections, seconds: SECONDS });
        if (wrk.non2xx > 0 || wrk.socketErrors > 0) throw new Error(`wrk saw ${wrk.non2xx} non-2xx answers and ${wrk.socketErrors} socket errors`);
        const tool = await benchToolRate(nginx.url, path, connections, SECONDS);
        wrkRates.push(wrk.bytesPerSecond);
        toolRates.push(tool);
        ratios.push(tool / wrk.bytesPerSecond);
        console.error(`${label}, round ${round + 1}: wrk ${mibPerSecond(wrk.bytesPerSecond)}, porthole-bench ${mibPerSecond(tool)}`);
      }
      const ratio = median(ratios);
      passed &&= ratio >= TARGET;
      rows.push(`| ${label} | ${mibPerSecond(median(wrkRates))} | ${mibPerSecond(median(toolRates))} | ${ratio.toFixed(2)} | ≥ ${TARGET} | ${ratio >= TARGET ? 'met' : 'NOT met'} |`);
    }
    console.log(`\n## porthole-bench against wrk, nginx serving the same bytes — ${new Date().toISOString().slice(0, 10)}${quick ? ' (quick run)' : ''}\n`);
    console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); load after: ${loadavg()[0]?.toFixed(2)}; medians of ${ROUNDS} round(s) of ${SECONDS} s.\n`);
    console.log('| figure | wrk | porthole-bench | ratio | target | result |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const row of rows) console.log(row);
    process.exitCode = passed ? 0 : 1;
  } finally {
    await teardown.run();
  }
}

await main();
