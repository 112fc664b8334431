import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { cleanup, tempDir } from './porthole-process.js';
import { spawnService, waitForService, type ServiceProcess } from './service-process.js';

/** Debian's haproxy in front of some backends: round robin, no stickiness, HTTP mode. */
export interface HaproxyProcess {
  /** http://127.0.0.1:port */
  url: string;
  /** 127.0.0.1:port, as skopeo wants it. */
  host: string;
  service(): ServiceProcess;
  stop(): Promise<void>;
}

/**
 * The answer haproxy gives when no replica could answer a request (one died under it): 503 with
 * an OCI error body whose code, UNAVAILABLE, tells registry clients to retry, where haproxy's own
 * HTML 502 would end a skopeo push. docs/scale-out.md recommends the same.
 */
const UNAVAILABLE = [
  'HTTP/1.1 503 Service Unavailable',
  'content-type: application/json',
  'cache-control: no-cache',
  'connection: close',
  '',
  '{"errors":[{"code":"UNAVAILABLE","message":"the registry replica serving this request went away; try again"}]}',
  '',
].join('\r\n');

/**
 * Every request goes to the next backend in turn (`balance roundrobin`, and `http-server-close`
 * so that requests on one client connection are balanced too, not just connections). A backend
 * that stops answering is taken out by its health check (GET /livez every 500 ms), as a real
 * deployment's balancer would; a request that could not reach it goes to another
 * (`retry-on conn-failure` with `redispatch`), and one it was serving when it died is answered
 * UNAVAILABLE, which clients retry.
 */
export async function startHaproxy(backends: Array<{ name: string; port: number }>): Promise<HaproxyProcess> {
  const dir = await tempDir('haproxy');
  const port = await freePort();
  const config = [
    'global',
    '  maxconn 512',
    'defaults',
    '  mode http',
    '  option http-server-close',
    '  timeout connect 2s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  retries 2',
    '  retry-on conn-failure empty-response response-timeout',
    '  option redispatch',
    `  errorfile 502 ${join(dir, 'unavailable.http')}`,
    `  errorfile 503 ${join(dir, 'unavailable.http')}`,
    `  errorfile 504 ${join(dir, 'unavailable.http')}`,
    'frontend registry',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    '  option httpchk GET /livez',
    ...backends.map((backend) => `  server ${backend.name} 127.0.0.1:${backend.port} check inter 500 fall 1 rise 1`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  await writeFile(join(dir, 'unavailable.http'), UNAVAILABLE);
  const service = spawnService('haproxy', ['-db', '-f', file]);
  const url = `http://127.0.0.1:${port}`;
  await waitForService(service, 'haproxy to answer', async () => {
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1_000) });
      return response.status < 500 ? true : undefined;
    } catch {
      return undefined;
    }
  });
  return {
    url,
    host: `127.0.0.1:${port}`,
    service: () => service,
    async stop() {
      await service.stop();
      await cleanup(dir);
    },
  };
}
