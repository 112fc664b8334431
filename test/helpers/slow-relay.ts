import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of a real server that passes requests through at once and answers at a
 * limited rate, so that a test can act while a transfer is under way (kill the server half-way
 * through a blob). It changes no byte: only the pace of the server's answers.
 */
export interface SlowRelay {
  url: string;
  /** Bytes of answers passed to clients so far. */
  relayed(): number;
  close(): Promise<void>;
}

export async function startSlowRelay(target: { host: string; port: number }, bytesPerSecond: number): Promise<SlowRelay> {
  let relayed = 0;
  const sockets = new Set<Socket>();
  const tickMs = 50;
  const perTick = Math.max(1, Math.floor((bytesPerSecond * tickMs) / 1000));

  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const queue: Buffer[] = [];
    let ended = false;
    const timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0] as Buffer;
        const part = head.subarray(0, budget);
        client.write(part);
        relayed += part.length;
        budget -= part.length;
        if (part.length === head.length) queue.shift();
        else queue[0] = head.subarray(part.length);
      }
      if (queue.length === 0 && ended) {
        clearInterval(timer);
        client.end();
      }
    }, tickMs);
    const finish = () => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => queue.push(chunk));
    // The server going away mid-answer is passed on as it happened: the client's connection is cut.
    upstream.on('end', () => {
      ended = true;
    });
    upstream.on('error', finish);
    upstream.on('close', (hadError) => {
      if (hadError || queue.length > 0) finish();
    });
    client.on('error', finish);
    client.on('close', finish);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    relayed: () => relayed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
