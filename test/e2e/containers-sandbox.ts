import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { runCommand, type CommandResult } from './run-command.js';

/**
 * Configuration of containers/image (shared by skopeo and podman) kept in a temp dir, so that
 * the tests depend neither on the machine's /etc/containers nor on root's credentials, and can
 * never reach out to a public registry:
 *   - policy.json accepts anything: the fixtures are unsigned, and a machine's policy might
 *     demand signatures. It is found as $HOME/.config/containers/policy.json (containers-policy.json(5)),
 *     which podman also reads; skopeo gets it with --policy as well.
 *   - registries.conf has no search registries and no mirrors, so only the registry named in
 *     each reference (porthole on loopback) is contacted (CONTAINERS_REGISTRIES_CONF).
 *   - containers.conf is empty, so podman uses its built-in defaults (CONTAINERS_CONF).
 *   - an empty auth file, so no credentials of the machine are sent (REGISTRY_AUTH_FILE).
 *   - TMPDIR, where containers/image stages big files, is inside the sandbox.
 */
export class ContainersSandbox {
  private constructor(
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
    private readonly policy: string,
  ) {}

  static async create(): Promise<ContainersSandbox> {
    const dir = await tempDir('containers');
    const home = join(dir, 'home');
    const policy = join(home, '.config', 'containers', 'policy.json');
    const tmp = join(dir, 'tmp');
    await mkdir(join(home, '.config', 'containers'), { recursive: true });
    await mkdir(tmp);
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    await writeFile(join(dir, 'containers.conf'), '');
    await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: {} }));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      TMPDIR: tmp,
      CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
      CONTAINERS_CONF: join(dir, 'containers.conf'),
      REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
    };
    return new ContainersSandbox(dir, env, policy);
  }

  /** Runs skopeo with the sandbox's policy; skopeo's own timeout sits inside ours. */
  skopeo(args: string[], timeoutMs = 90_000): Promise<CommandResult> {
    const seconds = Math.max(1, Math.floor(timeoutMs / 1000) - 5);
    return runCommand('skopeo', ['--policy', this.policy, '--command-timeout', `${seconds}s`, ...args], { env: this.env, timeoutMs });
  }

  async dispose(): Promise<void> {
    await cleanup(this.dir);
  }
}
