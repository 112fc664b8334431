import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort } from './free-port.js';
import { cleanup, tempDir } from './porthole-process.js';
import { Exposition } from './prometheus-text.js';
import { spawnService, waitForService, type ServiceProcess } from './service-process.js';
import { basicHeaders } from './basic-auth.js';

export interface PushgatewayOptions {
  /** Require HTTP basic auth with this user and password (a web config with a bcrypt hash made by htpasswd). */
  basicAuth?: { username: string; password: string };
}

export interface PushgatewayProcess {
  /** http://127.0.0.1:port */
  url: string;
  /** host:port, as a Prometheus scrape target. */
  target: string;
  /** What the gateway holds now, as Prometheus would scrape it. */
  metrics(): Promise<Exposition>;
  /** Stops the gateway (its port then refuses connections). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  start(): Promise<void>;
  dispose(): Promise<void>;
  service(): ServiceProcess | undefined;
}

/** The Debian prometheus-pushgateway on loopback, with no persistence file. */
export async function startPushgateway(options: PushgatewayOptions = {}): Promise<PushgatewayProcess> {
  const dir = await tempDir('pushgateway');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Debian's gateway persists to one file under /var/lib by default, shared by every instance:
  // each test's gateway starts empty and keeps nothing.
  const args = [`--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--persistence.file='];
  const auth = options.basicAuth;
  if (auth) {
    // htpasswd (apache2-utils) makes the bcrypt hash the gateway's web config asks for.
    const line = execFileSync('htpasswd', ['-nbB', auth.username, auth.password], { encoding: 'utf8' }).trim();
    const hash = line.slice(line.indexOf(':') + 1);
    const webConfig = join(dir, 'web.yml');
    await writeFile(webConfig, `basic_auth_users:\n  ${auth.username}: '${hash}'\n`);
    args.push(`--web.config.file=${webConfig}`);
  }
  const headers: Record<string, string> = auth ? basicHeaders(auth.username, auth.password) : {};
  let service: ServiceProcess | undefined;
  const ready = async (): Promise<true | undefined> => {
    try {
      return (await fetch(`${url}/-/ready`, { headers })).status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  };
  const start = async (): Promise<void> => {
    service = spawnService('prometheus-pushgateway', args);
    await waitForService(service, 'the Pushgateway to be ready', ready);
  };
  const stop = async (): Promise<void> => {
    await service?.stop();
    service = undefined;
  };
  try {
    await start();
  } catch (err) {
    await stop();
    await cleanup(dir);
    throw err;
  }
  return {
    url,
    target: `127.0.0.1:${port}`,
    async metrics() {
      const response = await fetch(`${url}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });
      return new Exposition(await response.text());
    },
    stop,
    start,
    async dispose() {
      await stop();
      await cleanup(dir);
    },
    service: () => service,
  };
}
