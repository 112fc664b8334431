/**
 * The ceiling of a Node.js registry's ingest (issue 20), run as a process of its own by
 * figures-ingest-anchors.ts (through announced-server.ts): a node:http server that takes a blob upload as a registry does (POST opens it,
 * PUT ?digest= carries the body) and hashes the body with sha256 on its event loop, as porthole
 * does, but stores nothing: no file, no batching, no fsync, no framework. Whatever a registry
 * hashing on its event loop does, it cannot take a blob in faster than this process on the same
 * machine, so its rate over one core's sha256 is the most that ratio can be here.
 *
 * Run: node dist/bench/lib/hash-sink-server.js; prints {"port":N} once it listens. A PUT whose
 * body does not hash to its digest gets 400, so that a sample cannot pass without every byte.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const UPLOADS = /^\/v2\/(.+)\/blobs\/uploads\/([^/?]*)(?:\?(.*))?$/;

function answer(response: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-length': '0', ...headers }).end();
}

function hashBody(request: IncomingMessage, response: ServerResponse, name: string, query: string): void {
  const expected = new URLSearchParams(query).get('digest');
  const hash = createHash('sha256');
  request.on('data', (chunk: Buffer) => hash.update(chunk));
  request.on('end', () => {
    const digest = `sha256:${hash.digest('hex')}`;
    if (digest === expected) answer(response, 201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
    else answer(response, 400);
  });
}

const server = createServer((request, response) => {
  const match = UPLOADS.exec(request.url ?? '');
  const [, name = '', id = '', query = ''] = match ?? [];
  if (match && request.method === 'POST' && id === '') {
    request.resume();
    answer(response, 202, { location: `/v2/${name}/blobs/uploads/${randomUUID()}` });
  } else if (match && request.method === 'PUT' && id !== '') {
    hashBody(request, response, name, query);
  } else {
    request.resume();
    answer(response, 404);
  }
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
