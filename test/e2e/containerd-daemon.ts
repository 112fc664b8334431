import { mkdir, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { spawnService, waitForService, type ServiceProcess } from '../helpers/service-process.js';
import { runCommand, type CommandResult } from './run-command.js';

/**
 * The snapshotter the tests unpack into: it copies plain directories, so it needs neither
 * overlayfs nor any other kernel support a test machine (or a container) may lack.
 */
export const SNAPSHOTTER = 'native';

/**
 * containerd's configuration (version 2), with everything it writes in `dir`: its root, state
 * and temp directories and all three sockets; /opt/containerd (the opt plugin's default) too.
 * Disabled: the CRI plugin, which is for the kubelet (it wants CNI and opens a streaming
 * server), and devmapper, which needs a thin pool. Content is not shared between namespaces
 * ("isolated"), so that each test's namespace downloads everything it pulls instead of finding
 * blobs an earlier test fetched.
 */
function configuration(dir: string, socket: string): string {
  return [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    `temp = "${join(dir, 'tmp')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[debug]',
    `  address = "${join(dir, 'debug.sock')}"`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${join(dir, 'opt')}"`,
    '[plugins."io.containerd.metadata.v1.bolt"]',
    '  content_sharing_policy = "isolated"',
    '',
  ].join('\n');
}

/** Whether something accepts connections on the unix socket at `path`. */
function accepts(path: string): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/** A containerd of the test's own (run as root, no systemd), driven with `ctr`. */
export class Containerd {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly service: ServiceProcess,
  ) {}

  /** Starts containerd and resolves once its gRPC socket accepts connections (bounded: 20 s). */
  static async start(): Promise<Containerd> {
    const dir = await tempDir('containerd');
    const socket = join(dir, 'containerd.sock');
    const configFile = join(dir, 'config.toml');
    await mkdir(join(dir, 'tmp'));
    await writeFile(configFile, configuration(dir, socket));
    const service = spawnService('containerd', ['--config', configFile]);
    try {
      await waitForService(service, `its socket ${socket}`, () => accepts(socket));
    } catch (err) {
      await service.kill9();
      await cleanup(dir);
      throw new Error(`containerd ${(err as Error).message}`);
    }
    return new Containerd(dir, socket, service);
  }

  /** Runs `ctr` in `namespace` (each test takes its own, so that it starts from nothing). */
  ctr(namespace: string, args: string[], timeoutMs = 60_000): Promise<CommandResult> {
    return runCommand('ctr', ['--address', this.socket, '--namespace', namespace, ...args], { timeoutMs });
  }

  /** What containerd logged, for failure messages. */
  output(): string {
    return this.service.output();
  }

  /** SIGTERM, then SIGKILL if it has not exited within 15 s; then removes everything it wrote. */
  async stop(): Promise<void> {
    await this.service.stop();
    await cleanup(this.dir);
  }
}

/** One containerd for a test file or describe block: started in `before`, stopped in `after`. */
export function sharedContainerd(): () => Containerd {
  let running: Containerd | undefined;
  before(async () => {
    running = await Containerd.start();
  });
  after(async () => {
    await running?.stop();
  });
  return () => {
    if (!running) throw new Error('containerd is not running yet: call sharedContainerd() outside tests, use it inside them');
    return running;
  };
}
