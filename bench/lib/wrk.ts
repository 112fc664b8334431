import { spawn } from 'node:child_process';

export interface WrkResult {
  requestsPerSecond: number;
  /** Requests completed during the run. */
  requests: number;
  /** Transfer rate, bytes per second. */
  bytesPerSecond: number;
  non2xx: number;
  /** Connect, read and write errors and timeouts (wrk's "Socket errors" line). */
  socketErrors: number;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

export interface WrkOptions {
  threads?: number;
  connections?: number;
  seconds?: number;
  /** How long wrk waits for an answer before counting a timeout (its own default: 2 s). */
  timeoutSeconds?: number;
  /** Request headers (an Accept for manifests: distribution answers 404 to a GET of an OCI manifest without one). */
  headers?: Record<string, string>;
  /** The core wrk runs on (taskset), away from the server's; anywhere when undefined. */
  cpu?: number;
}

/** Runs wrk (Debian's) against one URL and parses its summary; bounded by its own duration. */
export function runWrk(url: string, options: WrkOptions = {}): Promise<WrkResult> {
  const headers = Object.entries(options.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const timeout = options.timeoutSeconds === undefined ? [] : [`--timeout`, `${options.timeoutSeconds}s`];
  const args = [`-t${options.threads ?? 2}`, `-c${options.connections ?? 32}`, `-d${options.seconds ?? 10}s`, ...timeout, ...headers, url];
  return new Promise((resolve, reject) => {
    const [command, commandArgs] = options.cpu === undefined ? ['wrk', args] : ['taskset', ['-c', String(options.cpu), 'wrk', ...args]];
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ((options.seconds ?? 10) + 30) * 1000);
    child.on('error', reject);
    // 'close', not 'exit': only then has all of the summary been read from the pipes.
    child.on('close', (code) => {
      clearTimeout(timer);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
      const total = /(\d+) requests in/.exec(out);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      if (code !== 0 || !rps || !transfer || !total) {
        reject(new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${out}`));
        return;
      }
      resolve({
        requestsPerSecond: Number(rps[1]),
        requests: Number(total[1]),
        bytesPerSecond: Number(transfer[1]) * (UNITS[transfer[2] as string] ?? 1),
        non2xx: non2xx ? Number(non2xx[1]) : 0,
        socketErrors: socket ? socket.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0,
      });
    });
  });
}
