import { connect } from 'node:net';
import { freePort } from './free-port.js';
import { spawnService, waitForService, type ServiceProcess } from './service-process.js';

/** Debian's redis-server on loopback, keeping nothing on disk. */
export interface RedisProcess {
  /** redis://127.0.0.1:port */
  url: string;
  /** Stops it (its port then refuses connections), as an outage. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  service(): ServiceProcess | undefined;
}

/** Whether something answers PING with PONG at `port`. */
function pong(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answer: true | undefined): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1_000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG') ? true : undefined));
  });
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  // No snapshots and no append-only file: nothing is written, and a restart starts empty.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];
  let service: ServiceProcess | undefined;
  const start = async (): Promise<void> => {
    service = spawnService('redis-server', args);
    await waitForService(service, 'redis-server to answer PING', () => pong(port));
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await service?.stop();
      service = undefined;
    },
    start,
    service: () => service,
  };
}
