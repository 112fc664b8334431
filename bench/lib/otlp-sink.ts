import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** An OTLP/HTTP endpoint that takes every export and decodes none of it. */
export interface OtlpSink {
  /** The traces endpoint, for tracing.endpoint. */
  url: string;
  /** Export requests taken so far. */
  exports(): number;
  /** Body bytes taken so far. */
  bytes(): number;
  /** Resolves once no export has arrived for `quietMs` (bounded by `timeoutMs`). */
  settled(quietMs?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The collector of the tracing benchmark: it reads each export and answers 200 `{}` (OTLP's
 * success), nothing more. The test receiver decodes every span, which at samplingProb 1.0 is
 * several times porthole's own work for them; on a 2-core machine that work slows wrk, the server
 * then runs below saturation, and its CPU per request rises for reasons that are not tracing's.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let bytes = 0;
  let lastAt = Date.now();
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      exports += 1;
      lastAt = Date.now();
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    exports: () => exports,
    bytes: () => bytes,
    async settled(quietMs = 1_500, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && Date.now() - lastAt < quietMs) await sleep(250);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
