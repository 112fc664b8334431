import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnService, waitForService } from './service-process.js';
import { configWithStorage, storageFor, type TestStorage } from './test-storage.js';

/** The built CLI, as a user runs it (tests run from dist/, after `npm run build`). */
export const PORTHOLE_CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/porthole.js');

export interface PortholeProcess {
  url: string;
  /** host:port, as skopeo and podman want it. */
  host: string;
  port: number;
  root: string;
  /** Where it keeps its content: under `root`, or in a bucket of the run's s3rver (test-storage.ts). */
  storage: TestStorage;
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** What it wrote to stdout alone, and to stderr alone. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null after a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM (graceful) and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL, as a crash. */
  kill9(): Promise<void>;
}

export interface StartOptions {
  /** Storage root; a fresh temp dir when omitted (removed by `cleanup`). */
  root?: string;
  /** Where content is kept; the run's choice when omitted (test-storage.ts: under `root`, or S3). */
  storage?: TestStorage;
  /** YAML text of a config file to pass with --config. */
  config?: string;
  args?: string[];
  /** Fixed port; an ephemeral one when omitted. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Passed as --log-level; info when omitted, none at all (the config file decides) when null. */
  logLevel?: string | null;
  /**
   * A file to watch for the start-up announcement instead of stdout, for a porthole that logs
   * elsewhere: its log file (`porthole listening`) or its audit log (`server.start`, written
   * whatever log.level hides). Only what is appended after the start counts.
   */
  announcedIn?: string;
  /** Options for node itself, before porthole's script (V8's, for a benchmark). */
  nodeArgs?: string[];
  /** A descriptor to give the process as its stdout (with `announcedIn`); a pipe the helper reads when omitted. */
  stdoutFd?: number;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `porthole-${prefix}-`));
}

/** The port named by a start-up announcement line, if it is one. */
function announcedPort(line: string): number | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown; action?: unknown; detail?: unknown };
    if (parsed.msg === 'porthole listening' && typeof parsed.port === 'number') return parsed.port;
    // The audit log's server.start names the listener as address:port.
    if (parsed.action === 'server.start' && typeof parsed.detail === 'string') return Number(parsed.detail.slice(parsed.detail.lastIndexOf(':') + 1));
  } catch {
    // A line still being written: the next scan sees it whole.
  }
  return undefined;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Starts `porthole serve` and resolves once it announces that it listens (bounded: 20 s). */
export async function startPorthole(options: StartOptions = {}): Promise<PortholeProcess> {
  const root = options.root ?? (await tempDir('root'));
  const level = options.logLevel === undefined ? ['--log-level', 'info'] : options.logLevel === null ? [] : ['--log-level', options.logLevel];
  const args = [...(options.nodeArgs ?? []), PORTHOLE_CLI, 'serve', '--root', root, '--port', String(options.port ?? 0), ...level, ...(options.args ?? [])];
  const storage = options.storage ?? (await storageFor(root));
  const config = configWithStorage(options.config, storage);
  let configDir: string | undefined;
  if (config !== undefined) {
    configDir = await tempDir('config');
    const file = join(configDir, 'porthole.yaml');
    await writeFile(file, config);
    args.push('--config', file);
  }
  // A file that is appended to (a second start on the same log) already holds an announcement.
  const announcedIn = options.announcedIn;
  const announcementOffset = announcedIn === undefined ? 0 : fileSize(announcedIn);
  const service = spawnService(process.execPath, args, options.env, options.stdoutFd);
  // The config file is read at start-up only; it goes when the process does.
  void service.exited.then(() => (configDir === undefined ? undefined : rm(configDir, { recursive: true, force: true })));

  const scan = (text: string): number | undefined => text.split('\n').map(announcedPort).find((port) => port !== undefined);
  const announcement =
    announcedIn === undefined
      ? () => scan(service.stdout())
      : () => readFile(announcedIn).then((bytes) => scan(bytes.subarray(announcementOffset).toString('utf8')), () => undefined);
  let port: number;
  try {
    port = await waitForService(service, 'its "porthole listening" announcement', announcement);
  } catch (err) {
    // A porthole that never announced is not left running; a root this function made is its to remove.
    await service.kill9();
    if (options.root === undefined) await cleanup(root);
    throw new Error(`porthole ${(err as Error).message}`);
  }

  const { process: child, output, stdout, stderr, exited, stop, kill9 } = service;
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, port, root, storage, process: child, output, stdout, stderr, exited, stop, kill9 };
}

export async function cleanup(...paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { recursive: true, force: true })));
}
