/**
 * The framework's ceiling (issue 20), run as a process of its own by fastify-ceiling.ts: a
 * Fastify server (the fastify package porthole depends on, `logger: false`) that answers a
 * registry's manifest GET and blob HEAD with bytes and headers held in memory, as captured from
 * porthole. No routing of repository names, no storage, no metrics: what porthole does on top of
 * Fastify is what the ratio to this server measures.
 *
 * Run: node dist/bench/lib/fastify-ceiling-server.js ANSWERS.json; prints {"port":N} once it listens.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import type { CeilingAnswers } from './fastify-ceiling.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: fastify-ceiling-server.js ANSWERS.json');
const answers = JSON.parse(readFileSync(file, 'utf8')) as CeilingAnswers;
const manifest = Buffer.from(answers.manifestBase64, 'base64');

// HEAD routes are not derived from GET ones: HEAD answers the blob's headers, GET the manifest.
const app = Fastify({ logger: false, exposeHeadRoutes: false });
// One route per method, whatever the repository and reference: every GET is the manifest.
app.get('/v2/*', (_request, reply) => reply.headers(answers.manifestHeaders).send(manifest));
app.head('/v2/*', (_request, reply) => reply.headers(answers.blobHeaders).send());
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
