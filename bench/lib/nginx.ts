import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/free-port.js';

export interface StaticServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * nginx (Debian's nginx-light) serving a directory as static files on loopback: the physical
 * limit of serving bytes from a file (sendfile, no access log, 2 workers, keep-alive without a
 * request limit), in the foreground, with every path of its own under `dir`.
 */
export async function startNginx(dir: string, root: string): Promise<StaticServer> {
  const port = await freePort();
  await mkdir(join(dir, 'temp'), { recursive: true });
  const config = join(dir, 'nginx.conf');
  await writeFile(
    config,
    [
      'worker_processes 2;',
      'daemon off;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      '  sendfile on;',
      '  tcp_nopush on;',
      '  keepalive_requests 1000000;',
      `  client_body_temp_path ${join(dir, 'temp')};`,
      `  proxy_temp_path ${join(dir, 'temp')};`,
      `  fastcgi_temp_path ${join(dir, 'temp')};`,
      `  uwsgi_temp_path ${join(dir, 'temp')};`,
      `  scgi_temp_path ${join(dir, 'temp')};`,
      `  server { listen 127.0.0.1:${port}; root ${root}; location / { default_type application/octet-stream; } }`,
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('nginx', ['-c', config, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not answer within 10 s: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
