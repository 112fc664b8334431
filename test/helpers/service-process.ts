import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A long-running process a test starts (porthole, porthole-exporter, Prometheus...): its output
 * kept for assertions and failure messages, and a stop that is always bounded.
 */
export interface ServiceProcess {
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far, interleaved as it arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  exited: Promise<number | null>;
  hasExited(): boolean;
  /** Sends `signal` (SIGTERM: graceful) and waits for the exit; SIGKILL after 15 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, as a crash. */
  kill9(): Promise<void>;
}

/**
 * `stdoutFd`: a descriptor to give the process as its stdout (a FIFO's write end), instead of the
 * pipe Node.js makes (a socket pair), whose output `stdout()` keeps.
 */
export function spawnService(command: string, args: string[], env?: NodeJS.ProcessEnv, stdoutFd?: number): ServiceProcess {
  const child = spawn(command, args, { stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    // 'error' (the command does not exist) comes without an 'exit'.
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code));
  });
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    process: child,
    output: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    hasExited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (hasExited()) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill9() {
      if (hasExited()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** What a bounded wait for an exit gives when the process has not exited. */
export const STILL_RUNNING = 'still running';

/**
 * What `exited` (a process's exit, or a stop that waits for it) resolves with, or STILL_RUNNING
 * if it has not within `ms`: how a test bounds its wait for a process that may hang. The timer
 * does not outlive the wait.
 */
export async function exitWithin<T>(exited: Promise<T>, ms: number): Promise<T | typeof STILL_RUNNING> {
  let timer: NodeJS.Timeout | undefined;
  const running = new Promise<typeof STILL_RUNNING>((resolve) => {
    timer = setTimeout(() => resolve(STILL_RUNNING), ms);
  });
  try {
    return await Promise.race([exited, running]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `probe` until it gives a value (every 20 ms, bounded by `timeoutMs`): how a test waits
 * for a service to announce or answer. Fails early, with the output, when the service exits.
 */
export async function waitForService<T>(service: ServiceProcess, what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (service.hasExited()) throw new Error(`exited with ${service.process.exitCode ?? service.process.signalCode} while waiting for ${what}:\n${service.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}:\n${service.output()}`);
    await sleep(20);
  }
}

/** The JSON log lines of `text` (porthole's and porthole-exporter's format) whose `msg` is `message`, parsed. */
export function logLinesWith(text: string, message: string): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{') || !line.includes(message)) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.msg === message) found.push(parsed);
    } catch {
      // A line still being written: the next read sees it whole.
    }
  }
  return found;
}

export function findLogLine(text: string, message: string): Record<string, unknown> | undefined {
  return logLinesWith(text, message)[0];
}
