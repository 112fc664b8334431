import { hostname } from 'node:os';
import { Pushgateway, type Registry } from 'prom-client';
import type { PushgatewayConfig } from '../config/jobs-schema.js';
import { durationMs } from '../config/durations.js';
import type { PortholeLogger } from '../observability/logger.js';
import { redactedUrl } from '../observability/redact.js';
import type { JobAction } from './job.js';

/** Pushes one run's metrics; never throws (a push that fails is logged and reported as false). */
export type PushRun = (action: JobAction, registry: Registry) => Promise<boolean>;

/** No gateway configured: nothing is pushed. */
export const noPush: PushRun = async () => false;

/** The labels of a run's group: job, instance (or the configured grouping key) and action. */
export function groupingOf(config: PushgatewayConfig, action: JobAction): Record<string, string> {
  return { ...(config.groupingKey ?? { instance: hostname() }), action };
}

/**
 * Pushes with prom-client's Pushgateway client, PUT (`push`), so that a run replaces everything
 * the previous run of the same action pushed (Stash's sidecars do the same at the end of each
 * session). Grouped by job, instance and action: each kind of job replaces only its own group.
 * A gateway that is down, refuses or does not answer within `timeout` never fails the job.
 */
export function pushgatewayPusher(config: PushgatewayConfig, log: PortholeLogger, onFailure: (action: JobAction) => void): PushRun {
  const timeout = durationMs(config.timeout);
  const requestOptions = {
    timeout,
    ...(config.username === undefined ? {} : { auth: `${config.username}:${config.password ?? ''}` }),
  };
  const shown = redactedUrl(config.url);
  return async (action, registry) => {
    const gateway = new Pushgateway(config.url, requestOptions, registry);
    let timer: NodeJS.Timeout | undefined;
    // The client's timeout is the socket's idle time; this bounds the whole push.
    const overdue = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${config.timeout}`)), timeout);
    });
    try {
      await Promise.race([gateway.push({ jobName: config.job, groupings: groupingOf(config, action) }), overdue]);
      return true;
    } catch (err) {
      onFailure(action);
      log.warn({ pushgateway: shown, action, err: err instanceof Error ? err.message : String(err) }, 'job metrics not pushed: the Pushgateway did not take them');
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
}
