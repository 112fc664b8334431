import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay in front of a real server (docker-registry) that can make it fail the way real
 * upstreams do, on command: hang (take requests, never answer), refuse (reset every connection),
 * or cut an answer's body short after some bytes (stall, reset or close). It records every
 * request that reached it, so that a test can count what an upstream was asked, not time it.
 * Requests are parsed as porthole sends them: HTTP/1.1 without a body, one at a time per
 * connection.
 */
export type RelayMode = 'pass' | 'hang' | 'refuse';

export interface BodyCut {
  /** Which requests' answers are cut (matched against the request path). */
  path: RegExp;
  /** Body bytes passed on before the cut. */
  afterBodyBytes: number;
  /** stall: nothing more, the connection left open; reset: a TCP RST; close: a FIN. */
  then: 'stall' | 'reset' | 'close';
}

export interface RelayedRequest {
  method: string;
  path: string;
}

export interface FaultRelay {
  url: string;
  /** How requests that arrive from now on are treated (a connection already open included). */
  setMode(mode: RelayMode): void;
  /** Cuts the bodies of matching answers from now on; undefined passes them whole again. */
  cutBodies(cut: BodyCut | undefined): void;
  /** Every request that reached the relay, in order, whatever became of it. */
  requests(): RelayedRequest[];
  /** Connections reset in `refuse` mode before a request could arrive on them. */
  refusedConnections(): number;
  /** Attempts to use the upstream: requests that arrived, and connections refused before one could. */
  attempts(): number;
  close(): Promise<void>;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export async function startFaultRelay(target: { host: string; port: number }): Promise<FaultRelay> {
  let mode: RelayMode = 'pass';
  let cut: BodyCut | undefined;
  const seen: RelayedRequest[] = [];
  let refused = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (mode === 'refuse') {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    let upstream: Socket | undefined;
    let pending = Buffer.alloc(0);
    /** The answer being cut, if the current request's is: bytes of it seen so far, and where its body starts. */
    let cutting: { rule: BodyCut; answer: Buffer; done: boolean } | undefined;
    let hung = false;

    const toClient = (chunk: Buffer): void => {
      if (!cutting) {
        client.write(chunk);
        return;
      }
      if (cutting.done) return;
      const before = cutting.answer.length;
      cutting.answer = Buffer.concat([cutting.answer, chunk]);
      const headerEnd = cutting.answer.indexOf(HEADER_END);
      if (headerEnd === -1) {
        client.write(chunk);
        return;
      }
      const allowed = headerEnd + HEADER_END.length + cutting.rule.afterBodyBytes;
      if (cutting.answer.length <= allowed) {
        client.write(chunk);
        return;
      }
      client.write(chunk.subarray(0, Math.max(0, allowed - before)));
      cutting.done = true;
      upstream?.destroy();
      if (cutting.rule.then === 'reset') client.resetAndDestroy();
      else if (cutting.rule.then === 'close') client.end();
    };

    const upstreamConnection = (): Socket => {
      if (upstream) return upstream;
      const socket = connect(target.port, target.host);
      sockets.add(socket);
      socket.on('data', toClient);
      socket.on('error', () => client.destroy());
      socket.on('close', () => {
        sockets.delete(socket);
        if (!cutting?.done) client.end();
      });
      upstream = socket;
      return socket;
    };

    client.on('data', (chunk: Buffer) => {
      if (hung) return;
      pending = Buffer.concat([pending, chunk]);
      for (let end = pending.indexOf(HEADER_END); end !== -1; end = pending.indexOf(HEADER_END)) {
        const request = pending.subarray(0, end + HEADER_END.length);
        pending = pending.subarray(end + HEADER_END.length);
        const [method = '', path = ''] = request.toString('latin1').split('\r\n', 1)[0]?.split(' ') ?? [];
        seen.push({ method, path });
        if (mode === 'refuse') {
          client.resetAndDestroy();
          return;
        }
        if (mode === 'hang') {
          hung = true;
          return;
        }
        cutting = cut && cut.path.test(path) ? { rule: cut, answer: Buffer.alloc(0), done: false } : undefined;
        upstreamConnection().write(request);
      }
    });
    client.on('close', () => upstream?.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    setMode: (next) => {
      mode = next;
    },
    cutBodies: (next) => {
      cut = next;
    },
    requests: () => [...seen],
    refusedConnections: () => refused,
    attempts: () => seen.length + refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
