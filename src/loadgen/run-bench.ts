import { readFile } from 'node:fs/promises';
import { buildInfo } from '../observability/build-info.js';
import { pemCertificatesProblem } from '../runtime/pem.js';
import { checkAccess, StartupError } from './access-check.js';
import { cicdEntries } from './output-cicd.js';
import { openMetricsText } from './output-metrics.js';
import { describeTest, summaryText } from './output-text.js';
import type { BenchOptions } from './options.js';
import { ProgressLine } from './progress.js';
import { pushResults } from './push-results.js';
import { RegistrySession, type TlsSettings } from './registry-session.js';
import { compareRuns, exitCodeOf, type BenchReport, type RegistryRun } from './report.js';
import { runTest } from './runner.js';
import { selectTests } from './test-catalog.js';
import { TestData } from './test-data.js';

export const EXIT_CODES = { ok: 0, failures: 1, cannotStart: 2 } as const;

export interface BenchIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

/** The tests' names, one per line (those -t selects when given), as zb's -l prints them. */
export function listTests(options: BenchOptions): string {
  return selectTests(options.testRegex)
    .map((test) => `${test.name}${test.needsUpstream ? '   (needs --upstream)' : ''}`)
    .join('\n');
}

/** --threads as the header shows it: how many, and how the clients are spread over them. */
function threadsLine(options: BenchOptions): string {
  const threads = Math.min(options.threads, options.concurrency);
  if (threads <= 1) return '1 (every client on the main thread)';
  return `${threads} worker threads (${options.concurrency} clients spread over them)`;
}

async function tlsSettings(options: BenchOptions): Promise<TlsSettings> {
  const tls: TlsSettings = { rejectUnauthorized: !options.insecure };
  if (options.ca === undefined) return tls;
  let pem: Buffer;
  try {
    pem = await readFile(options.ca);
  } catch (err) {
    throw new StartupError(`--ca: cannot read ${options.ca} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (pemCertificatesProblem(pem.toString('utf8')) !== undefined) throw new StartupError(`--ca: ${options.ca} holds no usable PEM certificate`);
  tls.ca = pem;
  return tls;
}

/**
 * A whole run: checks access to every registry named (a refusal stops it with exit 2 before any
 * test), runs the selected tests in order (with --compare, against URL and URL2 alternately, the
 * first of each pair swapping from one test to the next), prints each test's figures as it ends,
 * then the summary and the chosen output, pushes to the Pushgateway, and answers the exit code.
 */
export async function runBench(options: BenchOptions, io: BenchIo): Promise<number> {
  const tests = selectTests(options.testRegex);
  if (tests.length === 0) {
    io.stderr.write(`porthole-bench: no test matches -t ${options.testRegex?.source}; -l lists them\n`);
    return EXIT_CODES.cannotStart;
  }
  // Test figures go to stdout in the default format; with a machine format, stdout holds only that.
  const log = options.output === 'stdout' ? io.stdout : io.stderr;
  const version = buildInfo().version;
  const startedAt = new Date();
  let tls: TlsSettings;
  try {
    tls = await tlsSettings(options);
  } catch (err) {
    io.stderr.write(`porthole-bench: ${(err as Error).message}\n`);
    return EXIT_CODES.cannotStart;
  }
  const session = (url: string) =>
    new RegistrySession({ url, credentials: options.credentials, timeoutMs: options.timeoutMs, connections: options.concurrency + 4, tls, userAgent: `porthole-bench/${version}` });
  const targets = [session(options.url), ...(options.compare === undefined ? [] : [session(options.compare)])];
  const upstream = options.upstream === undefined ? undefined : session(options.upstream);
  const sessions = [...targets, ...(upstream ? [upstream] : [])];
  try {
    try {
      for (const each of sessions) await checkAccess(each);
    } catch (err) {
      if (!(err instanceof StartupError)) throw err;
      io.stderr.write(`porthole-bench: ${err.message}\n`);
      return EXIT_CODES.cannotStart;
    }
    const runnable = tests.filter((test) => {
      if (!test.needsUpstream || upstream) return true;
      log.write(`Skipping test ${test.name}: it needs --upstream\n`);
      return false;
    });
    log.write(
      [
        `Registry URL:           ${options.url}`,
        ...(options.compare ? [`Compared with:          ${options.compare}`] : []),
        ...(options.upstream ? [`Upstream registry URL:  ${options.upstream}${options.upstreamNamespace ? ` (served by the target under ${options.upstreamNamespace}/)` : ''}`] : []),
        `Concurrency level:      ${options.concurrency}`,
        `Threads:                ${threadsLine(options)}`,
        `Requests per test:      ${options.requests}`,
        `Repository:             ${options.repo}`,
        `Working dir:            ${options.workingDir}`,
        `Authentication:         ${options.credentials ? `user ${options.credentials.username} (from ${options.credentialsFrom})` : 'none'}${targets[0]?.auth.scheme === 'none' ? '' : `, ${targets[0]?.auth.scheme}`}`,
        '',
      ].join('\n') + '\n',
    );
    const data = new TestData(options.workingDir, (message) => log.write(`${message}\n`));
    const progress = new ProgressLine(io.stderr);
    const runs: RegistryRun[] = targets.map((target) => ({ registry: target.url, tests: [] }));
    for (const [index, test] of runnable.entries()) {
      const order = index % 2 === 0 ? targets.map((_, i) => i) : targets.map((_, i) => targets.length - 1 - i);
      for (const which of order) {
        const target = targets[which] as RegistrySession;
        const result = await runTest(test, target, {
          requests: options.requests,
          concurrency: options.concurrency,
          threads: options.threads,
          skipCleanup: options.skipCleanup,
          baseRepo: options.repo,
          upstream,
          upstreamNamespace: options.upstreamNamespace,
          data,
          progress,
        });
        (runs[which] as RegistryRun).tests.push(result);
        log.write(`${describeTest(result)}\n\n`);
      }
    }
    const outcome = exitCodeOf(runs, options.maxTimeoutFailures);
    const report: BenchReport = {
      tool: 'porthole-bench',
      version,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      settings: {
        concurrency: options.concurrency,
        requests: options.requests,
        repo: options.repo,
        upstream: options.upstream ?? null,
        workingDir: options.workingDir,
        timeoutMs: options.timeoutMs,
        maxTimeoutFailures: options.maxTimeoutFailures,
        skipCleanup: options.skipCleanup,
      },
      runs,
      ...(runs.length === 2 ? { comparison: compareRuns(runs[0] as RegistryRun, runs[1] as RegistryRun) } : {}),
      ...outcome,
    };
    log.write(summaryText(report));
    if (options.output === 'json') io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else if (options.output === 'ci-cd') io.stdout.write(`${JSON.stringify(cicdEntries(report), null, 2)}\n`);
    else if (options.output === 'openmetrics') io.stdout.write(await openMetricsText(report));
    if (options.pushgateway !== undefined) {
      const problem = await pushResults(options.pushgateway, report);
      io.stderr.write(problem === undefined ? `Results pushed to the Pushgateway (job porthole-bench)\n` : `porthole-bench: ${problem}\n`);
    }
    return outcome.exitCode;
  } finally {
    await Promise.all(sessions.map((each) => each.destroy()));
  }
}
