import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { raw } from '../../test/helpers/raw-http.js';
import { OCI_MANIFEST } from '../../test/helpers/registry-client.js';
import { startAnnouncedServer, type AnnouncedServer } from './announced-server.js';

/** The headers of a registry's answer that the ceiling repeats, as issue 20 names them. */
const ANSWER_HEADERS = ['content-type', 'docker-content-digest', 'etag', 'content-length', 'docker-distribution-api-version'];

/** What the ceiling answers: porthole's manifest bytes and headers, and its blob HEAD headers. */
export interface CeilingAnswers {
  manifestBase64: string;
  manifestHeaders: Record<string, string>;
  blobHeaders: Record<string, string>;
}

function headersOf(headers: Record<string, string | string[] | undefined>, what: string): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of ANSWER_HEADERS) {
    const value = headers[name];
    if (typeof value !== 'string') throw new Error(`${what}: no ${name} header to repeat`);
    kept[name] = value;
  }
  return kept;
}

/** The answers of a running registry to GET `manifestPath` (as an OCI manifest) and HEAD `blobPath`. */
export async function captureAnswers(url: string, manifestPath: string, blobPath: string): Promise<CeilingAnswers> {
  const manifest = await raw(url, { path: manifestPath, headers: { accept: OCI_MANIFEST } });
  if (manifest.status !== 200) throw new Error(`GET ${manifestPath}: ${manifest.status}`);
  const blob = await raw(url, { method: 'HEAD', path: blobPath });
  if (blob.status !== 200) throw new Error(`HEAD ${blobPath}: ${blob.status}`);
  return {
    manifestBase64: manifest.body.toString('base64'),
    manifestHeaders: headersOf(manifest.headers, `GET ${manifestPath}`),
    blobHeaders: headersOf(blob.headers, `HEAD ${blobPath}`),
  };
}

const SERVER_SCRIPT = fileURLToPath(new URL('./fastify-ceiling-server.js', import.meta.url));

/**
 * Starts the ceiling (fastify-ceiling-server.ts) with `answers`, its file in `dir`, and with pino
 * access lines into `accessLog` when given; resolves once it listens (bounded: 20 s).
 */
export async function startFastifyCeiling(dir: string, answers: CeilingAnswers, options: { accessLog?: string; nodeArgs?: string[] } = {}): Promise<AnnouncedServer> {
  const file = join(dir, 'fastify-ceiling.json');
  await writeFile(file, JSON.stringify(answers));
  const args = [file, ...(options.accessLog === undefined ? [] : [options.accessLog])];
  return startAnnouncedServer(SERVER_SCRIPT, args, 'the Fastify ceiling', options.nodeArgs);
}
