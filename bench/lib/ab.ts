import { runCommand } from '../../test/e2e/run-command.js';

export interface AbResult {
  requestsPerSecond: number;
  /** Requests completed during the run. */
  requests: number;
  /** Requests ab counted as failed (connection, length or exception) or answered with a non-2xx status. */
  failed: number;
  /** Requests that reused a connection; all but the first of each connection with -k. */
  keptAlive: number;
}

/** More requests than any run can make in its time: with -t, ab's -n only caps the count. */
const UNBOUNDED_REQUESTS = 100_000_000;

function field(output: string, label: string): number | undefined {
  const match = new RegExp(`^${label}:\\s+([\\d.]+)`, 'm').exec(output);
  return match ? Number(match[1]) : undefined;
}

/**
 * Runs ApacheBench (Debian's apache2-utils) for `seconds` with keep-alive: HEAD requests (-i), which
 * wrk cannot make (it waits for a body that never comes). ab is single-threaded, so a fast server
 * may be measured at ab's own limit: the figure notes how busy each server was beside it.
 */
export async function runAb(url: string, options: { seconds: number; connections?: number; head?: boolean }): Promise<AbResult> {
  const args = ['-k', ...(options.head === false ? [] : ['-i']), '-c', String(options.connections ?? 32), '-t', String(options.seconds), '-n', String(UNBOUNDED_REQUESTS), '-q', url];
  const { stdout } = await runCommand('ab', args, { timeoutMs: (options.seconds + 30) * 1000 });
  const requestsPerSecond = field(stdout, 'Requests per second');
  const requests = field(stdout, 'Complete requests');
  if (requestsPerSecond === undefined || requests === undefined) throw new Error(`ab ${args.join(' ')}: no summary in:\n${stdout}`);
  return {
    requestsPerSecond,
    requests,
    failed: (field(stdout, 'Failed requests') ?? 0) + (field(stdout, 'Non-2xx responses') ?? 0),
    keptAlive: field(stdout, 'Keep-Alive requests') ?? 0,
  };
}
