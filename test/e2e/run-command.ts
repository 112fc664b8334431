import { spawn } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  /** The process is killed (SIGKILL) after this long; 60 s when omitted. */
  timeoutMs?: number;
  /** Written to the process's stdin, which is then closed; an empty stdin when omitted. */
  input?: string;
}

/** Thrown for a non-zero exit, a signal or a timeout; the message carries everything the tool said. */
export class CommandError extends Error {
  constructor(
    readonly commandLine: string,
    readonly code: number | null,
    readonly result: CommandResult,
    reason: string,
  ) {
    super(`${commandLine}\n  ${reason}\n  stdout: ${result.stdout.trim()}\n  stderr: ${result.stderr.trim()}`);
  }
}

/** Runs a tool to completion with a bounded wait, resolving with its output when it exits 0. */
export function runCommand(command: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
  const commandLine = [command, ...args].join(' ');
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    // Closed at once, so that a tool that reads stdin sees the input (or nothing) and never waits.
    child.stdin.on('error', () => undefined).end(options.input);
    const result: CommandResult = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (result.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(commandLine, null, result, `could not start: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new CommandError(commandLine, code, result, `killed after ${timeoutMs} ms`));
      else if (code !== 0) reject(new CommandError(commandLine, code, result, `exited with ${code ?? signal}`));
      else resolve(result);
    });
  });
}
