import { spawn, type ChildProcess } from 'node:child_process';
import { PORTHOLE_CLI } from './porthole-process.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Another built CLI of the project (such as porthole-exporter's); porthole's when omitted. */
  cli?: string;
  /** Written to the command's standard input (closed after it); no standard input when omitted. */
  input?: string;
  /** The command's whole environment; this process's when omitted. */
  env?: NodeJS.ProcessEnv;
  /** How long it may run before it is killed and the call fails; 20 s when omitted. */
  timeoutMs?: number;
  /** Called once the process runs (to kill a server under it, say). */
  started?: (child: ChildProcess) => void;
}

/** Runs the porthole CLI (or `options.cli`) to completion (bounded: 20 s unless told) and captures its output. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 20_000;
    const child = spawn(process.execPath, [options.cli ?? PORTHOLE_CLI, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.cli ?? PORTHOLE_CLI} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstderr: ${stderr.slice(-3000)}`));
    }, timeoutMs);
    child.once('error', reject);
    // 'close', not 'exit': only then has all of its output been read from the pipes.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    options.started?.(child);
  });
}
