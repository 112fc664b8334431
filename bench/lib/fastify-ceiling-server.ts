/**
 * The framework's ceiling (issue 20), run as a process of its own by fastify-ceiling.ts: a
 * Fastify server (the fastify package porthole depends on, `logger: false`) that answers a
 * registry's manifest GET and blob HEAD with bytes and headers held in memory, as captured from
 * porthole. No routing of repository names, no storage, no metrics: what porthole does on top of
 * Fastify is what the ratio to this server measures.
 *
 * With ACCESS.log, it also writes an access line per answer the way issue 20 proposes (pino, its
 * asynchronous sonic-boom destination), with the fields and format of porthole's own (docs/logging.md),
 * so that what such a line costs can be told beside what porthole's costs (figures-log-cost.ts).
 *
 * Run: node dist/bench/lib/fastify-ceiling-server.js ANSWERS.json [ACCESS.log]; prints {"port":N}
 * once it listens.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { CeilingAnswers } from './fastify-ceiling.js';

const [file, accessLog] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: fastify-ceiling-server.js ANSWERS.json [ACCESS.log]');
const answers = JSON.parse(readFileSync(file, 'utf8')) as CeilingAnswers;
const manifest = Buffer.from(answers.manifestBase64, 'base64');

/** One line per answer, as porthole's access line (the same fields, level label and ISO time), through pino. */
function logAccess(app: FastifyInstance, path: string): void {
  const destination = pino.destination({ dest: path, sync: false, minLength: 4096 });
  const options = { base: { replica: 'ceiling' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } };
  const log = pino(options, destination).child({ module: 'http' });
  const digest = answers.manifestHeaders['docker-content-digest'];
  app.addHook('onResponse', (request, reply, done) => {
    const fields = {
      reqId: randomUUID(),
      method: request.method,
      route: request.routeOptions.url,
      path: request.url,
      status: reply.statusCode,
      latency: reply.elapsedTime / 1000,
      bytesIn: 0,
      bytesOut: manifest.length,
      clientIP: request.ip,
      user: 'anonymous',
      repo: 'bench/app',
      reference: 'v1',
      digest,
    };
    log.info(fields, 'request served');
    done();
  });
  // Lines still buffered at SIGTERM are lost: the figure counts CPU, not lines.
}

// HEAD routes are not derived from GET ones: HEAD answers the blob's headers, GET the manifest.
const app = Fastify({ logger: false, exposeHeadRoutes: false });
if (accessLog !== undefined) logAccess(app, accessLog);
// One route per method, whatever the repository and reference: every GET is the manifest.
app.get('/v2/*', (_request, reply) => reply.headers(answers.manifestHeaders).send(manifest));
app.head('/v2/*', (_request, reply) => reply.headers(answers.blobHeaders).send());
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
