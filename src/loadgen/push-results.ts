import { hostname } from 'node:os';
import { Pushgateway } from 'prom-client';
import { redactedUrl } from '../observability/redact.js';
import { reportMetrics } from './output-metrics.js';
import type { BenchReport } from './report.js';

const PUSH_TIMEOUT_MS = 15_000;

/**
 * Pushes the report's metrics to a Pushgateway with prom-client's client, as porthole's jobs do
 * (src/jobs/pushgateway.ts): PUT, so that a run replaces the previous run's group (job
 * "porthole-bench", instance this host); credentials in the URL are sent as Basic auth, and the
 * whole push is bounded in time. Resolves with an error message, or undefined when it was taken.
 */
export async function pushResults(gatewayUrl: string, report: BenchReport): Promise<string | undefined> {
  const url = new URL(gatewayUrl);
  const auth = url.username === '' ? undefined : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  const gateway = new Pushgateway(url.href.replace(/\/+$/, ''), { timeout: PUSH_TIMEOUT_MS, ...(auth === undefined ? {} : { auth }) }, reportMetrics(report));
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PUSH_TIMEOUT_MS / 1000} s`)), PUSH_TIMEOUT_MS);
  });
  try {
    await Promise.race([gateway.push({ jobName: 'porthole-bench', groupings: { instance: hostname() } }), overdue]);
    return undefined;
  } catch (err) {
    return `the Pushgateway ${redactedUrl(gatewayUrl)} did not take the results: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}
