import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { freePort } from './free-port.js';
import { cleanup, tempDir } from './porthole-process.js';
import { spawnService, waitForService } from './service-process.js';

/** The reference registry: CNCF distribution as Debian packages it (`docker-registry`, 2.8.2). */
export interface DistributionProcess {
  url: string;
  /** host:port, as skopeo wants it. */
  host: string;
  root: string;
  readonly process: ChildProcess;
  /** Where its Prometheus metrics are served (the debug listener). */
  metricsUrl: string;
  output(): string;
  /** Stops the process (SIGTERM, or the signal given), keeping its storage, so that `start` can bring it back. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again, on the same port and storage, after `stop`. */
  start(): Promise<void>;
  /** Stops it (SIGTERM, SIGKILL after 15 s) and removes its configuration, and its storage unless `root` was given. */
  dispose(): Promise<void>;
}

export interface DistributionOptions {
  /** Storage root (another registry's, to load it without its auth); a new one when omitted. */
  root?: string;
  /** Run as a pull-through cache of this registry (`proxy.remoteurl`). */
  proxyOf?: string;
  /** Basic auth with one user (an htpasswd file, made with apache2-utils' htpasswd). */
  basicAuth?: { username: string; password: string };
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certificate: string; key: string };
  /** Token auth: clients need a bearer token from `realm`, signed by a key `rootCertBundle` vouches for. */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Write an access log line per request (Apache combined format, on stdout: see `output()`). Off when omitted. */
  accessLog?: boolean;
}

/**
 * docker-registry's configuration, equivalent to the benchmarked porthole's:
 *  - filesystem storage in a temp dir, deletes allowed;
 *  - access log off (unless asked for) and only errors logged (porthole runs at log.level warn);
 *  - Prometheus metrics on, on the debug listener (the only place 2.8 serves them);
 *  - the in-memory blob descriptor cache, as in Debian's stock /etc/docker/registry/config.yml
 *    (porthole keeps its own in-memory caches), so the reference is measured as it is deployed.
 * Keys checked against /usr/share/doc/docker-registry/configuration.md.gz.
 */
function configuration(root: string, port: number, debugPort: number, options: DistributionOptions, htpasswdFile: string): string {
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: options.accessLog !== true } },
    storage: { filesystem: { rootdirectory: root }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
    http: { addr: `127.0.0.1:${port}`, debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true, path: '/metrics' } } },
  };
  if (options.proxyOf !== undefined) config.proxy = { remoteurl: options.proxyOf };
  if (options.tls) (config.http as Record<string, unknown>).tls = { certificate: options.tls.certificate, key: options.tls.key };
  if (options.basicAuth) config.auth = { htpasswd: { realm: 'basic-realm', path: htpasswdFile } };
  if (options.tokenAuth) {
    const { realm, service, issuer, rootCertBundle } = options.tokenAuth;
    config.auth = { token: { realm, service, issuer, rootcertbundle: rootCertBundle } };
  }
  return stringify(config);
}

/** The status of a GET, over HTTP or HTTPS (whose test certificate is not checked here). */
function statusOf(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsGet : httpGet)(url, { rejectUnauthorized: false, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

/** One bcrypt htpasswd line, as docker-registry requires (it accepts no other hash). */
function htpasswdLine(username: string, password: string): string {
  const made = spawnSync('htpasswd', ['-nbB', username, password], { encoding: 'utf8', timeout: 10_000 });
  if (made.status !== 0) throw new Error(`htpasswd failed: ${made.stderr || made.error?.message}`);
  return made.stdout.trim() + '\n';
}

/** Starts `docker-registry serve` on loopback and resolves once GET /v2/ answers (bounded: 20 s). */
export async function startDistribution(options: DistributionOptions = {}): Promise<DistributionProcess> {
  const dir = await tempDir('distribution');
  const root = options.root ?? join(dir, 'data');
  const [port, debugPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'config.yml');
  const htpasswdFile = join(dir, 'htpasswd');
  if (options.basicAuth) await writeFile(htpasswdFile, htpasswdLine(options.basicAuth.username, options.basicAuth.password));
  await writeFile(configFile, configuration(root, port, debugPort, options, htpasswdFile));
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const answers = async (): Promise<true | undefined> => {
    try {
      // 401 is an answer too: a registry with auth asks for it on /v2/.
      const status = await statusOf(`${url}/v2/`);
      return status === 200 || status === 401 ? true : undefined;
    } catch {
      return undefined;
    }
  };
  let service = spawnService('docker-registry', ['serve', configFile]);
  const dispose = async (): Promise<void> => {
    await service.stop();
    await cleanup(dir);
  };
  const launched = async (): Promise<void> => {
    try {
      await waitForService(service, 'GET /v2/ to answer', answers);
    } catch (err) {
      await dispose();
      throw new Error(`docker-registry ${(err as Error).message}`);
    }
  };
  await launched();
  return {
    url,
    host: `127.0.0.1:${port}`,
    root,
    get process() {
      return service.process;
    },
    metricsUrl: `http://127.0.0.1:${debugPort}/metrics`,
    output: () => service.output(),
    async stop(signal?: NodeJS.Signals) {
      await service.stop(signal);
    },
    async start() {
      if (!service.hasExited()) return;
      service = spawnService('docker-registry', ['serve', configFile]);
      await launched();
    },
    dispose,
  };
}
