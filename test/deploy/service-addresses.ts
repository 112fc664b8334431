import assert from 'node:assert/strict';
import type { Json } from './deploy-files.js';

/**
 * Where one service of the compose project finds another: a URL's host and port, a command line's
 * flag, the targets of a Prometheus job. The checks compare these with the services' names and
 * ports, so that a renamed service or a moved port fails them.
 */

/** A URL's host, port (the scheme's default when none is written) and path. */
export function hostAndPort(url: string): { host: string; port: number; path: string } {
  const parsed = new URL(url);
  const port = parsed.port === '' ? ({ 'http:': 80, 'https:': 443, 'redis:': 6379, 'rediss:': 6379 }[parsed.protocol] ?? 0) : Number(parsed.port);
  return { host: parsed.hostname, port, path: parsed.pathname };
}

/** A flag's value on a command line, `--flag value` or `--flag=value`. */
export function flagValue(args: string[], flag: string): string | undefined {
  const index = args.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (index < 0) return undefined;
  const arg = args[index] as string;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
}

/** Prometheus' targets of a job, static or by DNS name, as host and port. */
export function targetsOf(job: Json): Array<{ host: string; port: number }> {
  const statics = ((job.static_configs ?? []) as Array<{ targets: string[] }>).flatMap((group) => group.targets);
  const dns = ((job.dns_sd_configs ?? []) as Array<{ names: string[]; port: number; type?: string }>).flatMap((group) => {
    assert.equal(group.type ?? 'SRV', 'A', `job ${String(job.job_name)}: DNS names are looked up as A records (compose has no SRV records)`);
    return group.names.map((name) => `${name}:${group.port}`);
  });
  return [...statics, ...dns].map((target) => ({ host: target.slice(0, target.lastIndexOf(':')), port: Number(target.slice(target.lastIndexOf(':') + 1)) }));
}
