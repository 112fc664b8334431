import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import type { ContainersSandbox } from './containers-sandbox.js';
import { runCommand, type CommandResult } from './run-command.js';

/**
 * A throwaway podman image store: every directory podman writes to (storage, run state, events,
 * network config) is under one temp dir, so tests never touch the machine's images and can
 * remove everything afterwards. vfs needs no kernel overlay support and leaves plain directories.
 */
export class PodmanStore {
  private constructor(
    readonly dir: string,
    private readonly globalFlags: string[],
    private readonly env: NodeJS.ProcessEnv,
    /** skopeo's name of this store, to put before an image name: `containers-storage:[vfs@root+runroot]`. */
    readonly transport: string,
  ) {}

  /**
   * `runContainers`: configured to build and run containers too, which on these machines takes
   * runc (crun fails on their rlimits and hybrid cgroups) and no default ulimits
   * (../shared/REFERENCE.md, "Containers"); pulling and pushing need neither.
   */
  static async create(sandbox: ContainersSandbox, options: { runContainers?: boolean } = {}): Promise<PodmanStore> {
    const dir = await tempDir('podman');
    const root = join(dir, 'root');
    const runroot = join(dir, 'run');
    const tmp = join(dir, 'tmp');
    const networks = join(dir, 'networks');
    await Promise.all([root, runroot, tmp, networks].map((d) => mkdir(d)));
    // The flags alone do not keep podman away from a machine's storage.conf options, so podman
    // also gets a storage.conf of its own (CONTAINERS_STORAGE_CONF, see podman(1)).
    const storageConf = join(dir, 'storage.conf');
    await writeFile(storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${root}"\nrunroot = "${runroot}"\n`);
    const globalFlags = [
      '--root',
      root,
      '--runroot',
      runroot,
      '--tmpdir',
      tmp,
      '--network-config-dir',
      networks,
      '--storage-driver',
      'vfs',
      '--events-backend',
      'file',
      '--cgroup-manager',
      'cgroupfs',
    ];
    const env: NodeJS.ProcessEnv = { ...sandbox.env, CONTAINERS_STORAGE_CONF: storageConf };
    if (options.runContainers) {
      globalFlags.push('--runtime', 'runc');
      env.CONTAINERS_CONF = join(dir, 'containers.conf');
      await writeFile(env.CONTAINERS_CONF, '[containers]\ndefault_ulimits = []\n');
    }
    return new PodmanStore(dir, globalFlags, env, `containers-storage:[vfs@${root}+${runroot}]`);
  }

  /** podman in this store; `input` goes to its standard input (`login --password-stdin`), which is empty otherwise. */
  podman(args: string[], timeoutMs = 90_000, input?: string): Promise<CommandResult> {
    return runCommand('podman', [...this.globalFlags, ...args], { env: this.env, timeoutMs, ...(input === undefined ? {} : { input }) });
  }

  /** Unmounts whatever podman left mounted under the store, then removes it all. */
  async dispose(): Promise<void> {
    for (const mountPoint of await mountsUnder(this.dir)) {
      await runCommand('umount', ['--lazy', mountPoint], { timeoutMs: 10_000 }).catch(() => undefined);
    }
    try {
      await cleanup(this.dir);
    } catch {
      // vfs layer directories can be read-only (dr-xr-xr-x); root ignores that, other users
      // need write permission back before the tree can be removed.
      await makeWritable(this.dir);
      await cleanup(this.dir);
    }
  }
}

/** Mount points at or under `dir`, deepest first (mountinfo field 5, octal escapes decoded). */
async function mountsUnder(dir: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await makeWritable(join(dir, entry.name));
}
