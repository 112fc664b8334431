import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI, as a user runs it (tests run from dist/, after `npm run build`). */
export const PORTHOLE_CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/porthole.js');

export interface PortholeProcess {
  url: string;
  /** host:port, as skopeo and podman want it. */
  host: string;
  port: number;
  root: string;
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM (graceful) and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, as a crash. */
  kill9(): Promise<void>;
}

export interface StartOptions {
  /** Storage root; a fresh temp dir when omitted (removed by `cleanup`). */
  root?: string;
  /** YAML text of a config file to pass with --config. */
  config?: string;
  args?: string[];
  /** Fixed port; an ephemeral one when omitted. */
  port?: number;
  env?: NodeJS.ProcessEnv;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `porthole-${prefix}-`));
}

/** Starts `porthole serve` and resolves once it logs that it listens (bounded: 20 s). */
export async function startPorthole(options: StartOptions = {}): Promise<PortholeProcess> {
  const root = options.root ?? (await tempDir('root'));
  const args = [PORTHOLE_CLI, 'serve', '--root', root, '--port', String(options.port ?? 0), '--log-level', 'info', ...(options.args ?? [])];
  let configDir: string | undefined;
  if (options.config !== undefined) {
    configDir = await tempDir('config');
    const file = join(configDir, 'porthole.yaml');
    await writeFile(file, options.config);
    args.push('--config', file);
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  // The config file is read at start-up only; it goes when the process does.
  void exited.then(() => (configDir === undefined ? undefined : rm(configDir, { recursive: true, force: true })));

  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`porthole did not start within 20 s:\n${output}`)), 20_000);
    const scan = (): void => {
      for (const line of output.split('\n')) {
        if (!line.includes('"porthole listening"')) continue;
        clearTimeout(timer);
        resolvePort((JSON.parse(line) as { port: number }).port);
        return;
      }
    };
    child.stdout.on('data', scan);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`porthole exited with ${code} before listening:\n${output}`));
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    root,
    process: child,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function cleanup(...paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { recursive: true, force: true })));
}
