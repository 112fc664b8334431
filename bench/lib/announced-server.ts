import { spawnService, waitForService } from '../../test/helpers/service-process.js';

/** A bench server run as a process of its own (the Fastify ceiling, the hash sink). */
export interface AnnouncedServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs `script` (a server in dist/bench/lib) under this Node.js (with `nodeArgs`) with `args` and
 * resolves once its first stdout line announces {"port":N} (bounded: 20 s); `what` names it in errors.
 */
export async function startAnnouncedServer(script: string, args: string[], what: string, nodeArgs: string[] = []): Promise<AnnouncedServer> {
  const service = spawnService(process.execPath, [...nodeArgs, script, ...args]);
  const announced = (): number | undefined => {
    const line = service.stdout().split('\n')[0] ?? '';
    return line.startsWith('{') && line.endsWith('}') ? (JSON.parse(line) as { port: number }).port : undefined;
  };
  let port: number;
  try {
    port = await waitForService(service, 'its port', announced);
  } catch (err) {
    await service.kill9();
    throw new Error(`${what} ${(err as Error).message}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    pid: service.process.pid as number,
    stop: async () => {
      await service.stop();
    },
  };
}
