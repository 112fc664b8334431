import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConfigError, loadConfig } from '../config/load.js';
import { fromEnvironment } from '../config/environment.js';
import { durationMs, isDuration } from '../config/durations.js';
import { EXIT } from './exit-codes.js';

export interface HealthOptions {
  config?: string;
  probe: string;
  url?: string;
  timeout: string;
}

export const PROBES = ['livez', 'readyz', 'startupz'] as const;

/** Where a porthole listening on `address` is reached from the same host: a wildcard address on loopback. */
function loopbackHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

/** The probe's URL on the porthole that the configuration (file and PORTHOLE_* variables) describes. */
async function configuredUrl(options: HealthOptions): Promise<URL> {
  const config = await loadConfig(options.config, {}, fromEnvironment(process.env));
  if (config.http.port === 0) throw new ConfigError(['http.port: 0 picks a free port, which the health check cannot know: give --url']);
  const scheme = config.http.tls ? 'https' : 'http';
  return new URL(`${scheme}://${loopbackHost(config.http.address)}:${config.http.port}/${options.probe}`);
}

/** The probe's status code, or the reason there is none. */
function probe(url: URL, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // The check talks to its own container over loopback: the certificate names the registry's
    // public host, not 127.0.0.1, and nothing secret is sent, so it is not verified.
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * `porthole health`: asks a porthole on this host for one of its probes; exit 0 when it answers
 * 200, 1 otherwise, 2 when the configuration cannot say where it listens. The container image's
 * HEALTHCHECK, which must not need curl.
 */
export async function health(options: HealthOptions): Promise<number> {
  if (!(PROBES as readonly string[]).includes(options.probe)) {
    process.stderr.write(`porthole health: --probe must be one of ${PROBES.join(', ')}\n`);
    return EXIT.badConfig;
  }
  if (!isDuration(options.timeout)) {
    process.stderr.write(`porthole health: --timeout "${options.timeout}" is not a duration such as 3s\n`);
    return EXIT.badConfig;
  }
  let url: URL;
  try {
    url = options.url !== undefined ? new URL(`/${options.probe}`, options.url) : await configuredUrl(options);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`porthole health: ${err.message}\n`);
      return EXIT.badConfig;
    }
    if (err instanceof TypeError) {
      process.stderr.write(`porthole health: --url "${options.url}" is not a URL\n`);
      return EXIT.badConfig;
    }
    throw err;
  }
  try {
    const status = await probe(url, durationMs(options.timeout));
    process.stdout.write(`${url.href}: ${status}\n`);
    return status === 200 ? EXIT.ok : EXIT.failure;
  } catch (err) {
    process.stdout.write(`${url.href}: ${(err as Error).message}\n`);
    return EXIT.failure;
  }
}
