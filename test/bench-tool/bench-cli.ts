import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PORTHOLE_CLI } from '../helpers/porthole-process.js';
import { runCli } from '../helpers/run-cli.js';
import type { BenchReport } from '../../src/loadgen/report.js';
import type { TestResult } from '../../src/loadgen/results.js';

/** The built porthole-bench, as a user runs it. */
export const BENCH_CLI = join(dirname(PORTHOLE_CLI), 'bench.js');

export interface BenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole command. */
  ms: number;
}

export interface BenchRunOptions {
  /** Killed (SIGKILL) and the promise rejected after this long. */
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  /** Called once the process runs (to kill a registry under it, say). */
  started?: (child: ChildProcess) => void;
}

/** Runs porthole-bench to completion, bounded, with stdin closed and stdout/stderr captured (neither a TTY). */
export async function runBenchCli(args: string[], options: BenchRunOptions): Promise<BenchRun> {
  const began = performance.now();
  const run = await runCli(args, { cli: BENCH_CLI, ...options });
  return { ...run, ms: performance.now() - began };
}

/**
 * Runs porthole-bench against `registry` and SIGKILLs the registry 0.7 s after the report says
 * Get Catalog ended: the next test's requests are then under way. `killed` says whether it came to that.
 */
export async function runKillingRegistryMidway(args: string[], registry: { stop(signal?: NodeJS.Signals): Promise<unknown> }, timeoutMs: number): Promise<{ run: BenchRun; killed: boolean }> {
  let killed = false;
  const run = await runBenchCli(args, {
    timeoutMs,
    started(child) {
      let seen = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (!killed && /Test name: +Get Catalog/.test(seen)) {
          killed = true;
          setTimeout(() => void registry.stop('SIGKILL'), 700);
        }
      });
    },
  });
  return { run, killed };
}

export function parseReport(run: BenchRun): BenchReport {
  try {
    return JSON.parse(run.stdout) as BenchReport;
  } catch {
    throw new Error(`porthole-bench -o json did not print JSON (exit ${run.code}):\n${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(-3000)}`);
  }
}

/** What went wrong, for an assertion message. */
export function failuresOf(tests: readonly TestResult[]): string {
  return tests
    .filter((test) => test.failed > 0 || test.outcome === 'setup failed')
    .map((test) => `${test.name}: ${test.reason ?? ''} ${JSON.stringify(test.errors)}`)
    .join('\n');
}
