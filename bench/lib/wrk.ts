import { spawn } from 'node:child_process';

export interface WrkResult {
  requestsPerSecond: number;
  /** Requests completed during the run. */
  requests: number;
  /** Transfer rate, bytes per second. */
  bytesPerSecond: number;
  non2xx: number;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** Runs wrk (Debian's) against one URL and parses its summary; bounded by its own duration. */
export function runWrk(url: string, options: { threads?: number; connections?: number; seconds?: number } = {}): Promise<WrkResult> {
  const args = [`-t${options.threads ?? 2}`, `-c${options.connections ?? 32}`, `-d${options.seconds ?? 10}s`, url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ((options.seconds ?? 10) + 30) * 1000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
      const total = /(\d+) requests in/.exec(out);
      if (code !== 0 || !rps || !transfer || !total) {
        reject(new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${out}`));
        return;
      }
      resolve({
        requestsPerSecond: Number(rps[1]),
        requests: Number(total[1]),
        bytesPerSecond: Number(transfer[1]) * (UNITS[transfer[2] as string] ?? 1),
        non2xx: non2xx ? Number(non2xx[1]) : 0,
      });
    });
  });
}
