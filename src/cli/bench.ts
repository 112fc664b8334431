#!/usr/bin/env node
import { Command, Option } from 'commander';
import { AUTH_ENV, OptionsError, OUTPUT_FORMATS, parseOptions, type RawOptions } from '../loadgen/options.js';
import { EXIT_CODES, listTests, runBench } from '../loadgen/run-bench.js';
import { versionText } from './version.js';

const program = new Command()
  .name('porthole-bench')
  .description(
    'Benchmark any OCI distribution registry (porthole, zot, distribution, Harbor...): push and pull with concurrent clients, ' +
      "report per-test latency percentiles and throughput. zb's tests under zb's names, and porthole-bench's own. See docs/bench.md.",
  )
  .version(versionText('porthole-bench'), '-V, --version', 'print the version and the commit')
  .argument('[url]', 'the registry, such as http://127.0.0.1:5000 or https://registry.example')
  .option('-c, --concurrency <n>', 'concurrent clients (default 1)')
  .option('--threads <n>', 'worker threads the clients are spread over, each with its own connections and tokens (default: min(cores, -c); 1: all on the main thread)')
  .option('-n, --requests <n>', 'requests per test (default 1)')
  .option('-t, --test-regex <re>', 'run only the tests whose name matches this regular expression')
  .option('-l, --list-tests', 'list the tests (with -t, those it matches) and exit')
  .option('-A, --auth-creds <user:password>', `credentials, for HTTP Basic and for the bearer-token flow (or env ${AUTH_ENV})`)
  .option('-r, --repo <name>', 'repository under which test data is pushed (default porthole-bench/<random>)')
  .addOption(new Option('-o, --output <format>', 'results format on stdout').choices([...OUTPUT_FORMATS]))
  .option('--pushgateway <url>', "push the results as metrics to this Prometheus Pushgateway (job porthole-bench)")
  .option('--compare <url2>', 'run every test against URL and URL2 alternately and report the ratios')
  .option('-u, --upstream <url>', 'the upstream registry URL caches, for the pull-through tests (pushed to directly)')
  .option('--upstream-namespace <path>', "where URL serves the upstream's repositories (porthole: the upstream's name); default the same names")
  .option('--skip-cleanup', 'leave the pushed content in the registry')
  .option('-d, --working-dir <dir>', 'where test data (random bytes) is made once and kept (default ~/.cache/porthole-bench)')
  .option('--max-timeout-failures <n>', 'timed-out requests that do not make the exit code non-zero (default 0)')
  .option('--insecure', "do not verify the registry's TLS certificate")
  .option('--ca <file>', 'PEM certificates to trust besides the system ones')
  .option('--timeout <duration>', 'a request that moves no byte for this long fails as a timeout (default 60s)')
  .showHelpAfterError()
  // A flag commander cannot take (unknown, missing its value) is a bad invocation: exit 2.
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.cannotStart);
  })
  .action(async (url: string | undefined, raw: RawOptions) => {
    let options;
    try {
      options = parseOptions(url, raw, process.env);
    } catch (err) {
      if (!(err instanceof OptionsError)) throw err;
      for (const problem of err.problems) process.stderr.write(`porthole-bench: ${problem}\n`);
      process.exit(EXIT_CODES.cannotStart);
    }
    if (options.listTests) {
      process.stdout.write(`${listTests(options)}\n`);
      return;
    }
    process.once('SIGINT', () => {
      process.stderr.write(`\nporthole-bench: interrupted; what was pushed so far under ${options.repo} is left in the registry\n`);
      process.exit(130);
    });
    const code = await runBench(options, { stdout: process.stdout, stderr: process.stderr });
    // Let stdout drain (a large JSON into a pipe) before exiting with the code.
    process.stdout.write('', () => process.exit(code));
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`porthole-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT_CODES.failures);
});
