import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const SOURCE_TREE = fileURLToPath(new URL('../../../', import.meta.url));

/** The first line a command prints (stdout, else stderr), or "absent"; bounded at 10 s. */
function firstLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000, cwd: SOURCE_TREE });
  if (result.error) return 'absent';
  return `${result.stdout}\n${result.stderr}`.split('\n').find((line) => line.trim() !== '')?.trim() ?? 'unknown';
}

/** The part of a tool's version line that `pattern` captures, or the whole line. */
export function versionOf(command: string, args: string[], pattern: RegExp): string {
  const line = firstLine(command, args);
  return pattern.exec(line)?.[1] ?? line;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/**
 * porthole's version, and the commit it was built from: src/ changes under other hands while
 * benchmarks run, so the results say whether uncommitted changes were in the build.
 */
function portholeVersion(): string {
  const { version } = JSON.parse(readFileSync(`${SOURCE_TREE}package.json`, 'utf8')) as { version: string };
  const commit = firstLine('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', timeout: 10_000, cwd: SOURCE_TREE }).stdout.trim() !== '';
  return `${version} (${commit}${dirty ? ' + uncommitted changes in src/' : ''})`;
}

export interface Machine {
  cores: number;
  memoryGiB: number;
  cpu: string;
  system: string;
  versions: Record<string, string>;
}

export function describeMachine(): Machine {
  const debian = readOr('/etc/debian_version', '');
  return {
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    cpu: cpus()[0]?.model ?? 'unknown',
    system: `${debian === '' ? 'Linux' : `Debian ${debian}`}, kernel ${release()}`,
    versions: {
      node: process.version,
      porthole: portholeVersion(),
      'docker-registry': versionOf('docker-registry', ['--version'], /^docker-registry (.*)$/),
      wrk: versionOf('wrk', ['--version'], /^wrk (\S+)/),
      ab: versionOf('ab', ['-V'], /Version (\S+)/),
      skopeo: versionOf('skopeo', ['--version'], /version (\S+)/),
      curl: versionOf('curl', ['--version'], /^curl (\S+)/),
      openssl: versionOf('openssl', ['version'], /^OpenSSL (\S+)/),
    },
  };
}

/** The 1-minute load average, to note how busy the machine was around the run. */
export function loadAverage(): number {
  return loadavg()[0] ?? 0;
}
