import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';

/**
 * An HTTP relay in front of a real server (docker-registry) that records every request it passes
 * on, headers included, so that a test can see what porthole sent an upstream (a `traceparent`,
 * say). It can also hold requests whose path matches a pattern until released, so that a test
 * can have a second client arrive while porthole's upstream fetch is certainly still running,
 * without timing anything. Bodies and answers pass through unchanged.
 */
export interface RecordedRequest {
  method: string;
  /** The request target, query included. */
  path: string;
  headers: IncomingHttpHeaders;
}

export interface RecordingRelay {
  url: string;
  /** Every request that reached the relay, in arrival order (held ones included). */
  requests(): RecordedRequest[];
  /** From now on, requests whose path matches wait at the relay until release(). */
  hold(path: RegExp): void;
  /** How many requests are waiting at the relay now. */
  held(): number;
  /** Passes every held request on, and holds nothing more. */
  release(): void;
  close(): Promise<void>;
}

export async function startRecordingRelay(target: { host: string; port: number }): Promise<RecordingRelay> {
  const seen: RecordedRequest[] = [];
  let holding: RegExp | undefined;
  let waiting: Array<() => void> = [];

  const server: Server = createServer((incoming, answer) => {
    const recorded: RecordedRequest = { method: incoming.method ?? '', path: incoming.url ?? '', headers: incoming.headers };
    seen.push(recorded);
    const forward = (): void => {
      const outgoing = httpRequest(
        { host: target.host, port: target.port, method: recorded.method, path: recorded.path, headers: incoming.headers, agent: false },
        (response) => {
          answer.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(answer);
        },
      );
      // The upstream gone mid-answer is passed on as a cut connection, as it happened.
      outgoing.on('error', () => answer.destroy());
      incoming.pipe(outgoing);
    };
    if (holding?.test(recorded.path)) waiting.push(forward);
    else forward();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests: () => [...seen],
    hold: (path) => {
      holding = path;
    },
    held: () => waiting.length,
    release: () => {
      holding = undefined;
      const held = waiting;
      waiting = [];
      for (const forward of held) forward();
    },
    close: () =>
      new Promise<void>((resolve) => {
        waiting = [];
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
