import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/free-port.js';

export interface StaticServer {
  url: string;
  /** The master process. */
  pid: number;
  /** The master and its workers, which do the serving: a CPU figure sums over them. */
  pids(): number[];
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** worker_processes: a count, or auto (one per core); 2 when omitted. */
  workers?: number | 'auto';
  /**
   * The Content-Type of files under a `manifests/` directory (a registry's manifest URLs), where
   * everything else goes out as application/octet-stream; none of its own when omitted.
   */
  manifestType?: string;
}

/** The processes nginx's master started (its workers), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
}

/**
 * nginx (Debian's nginx-light) serving a directory as static files on loopback: the physical
 * limit of serving bytes from a file (sendfile, no access log, keep-alive without a request
 * limit), in the foreground, with every path of its own under `dir`. No mime.types is included:
 * the files have no extensions, so each goes out with its location's default_type.
 */
export async function startNginx(dir: string, root: string, options: NginxOptions = {}): Promise<StaticServer> {
  const port = await freePort();
  await mkdir(join(dir, 'temp'), { recursive: true });
  const config = join(dir, 'nginx.conf');
  const manifests = options.manifestType === undefined ? '' : ` location ~ /manifests/[^/]+$ { default_type ${options.manifestType}; }`;
  await writeFile(
    config,
    [
      `worker_processes ${options.workers ?? 2};`,
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
      `  server { listen 127.0.0.1:${port}; root ${root}; location / { default_type application/octet-stream; }${manifests} }`,
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
  const pid = child.pid as number;
  return {
    url,
    pid,
    pids: () => [pid, ...childrenOf(pid)],
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
