import { hostname } from 'node:os';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { LOG_LEVELS } from '../../src/config/schema.js';
import { assertStatus } from '../helpers/assert-registry.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { raw, type RawRequest } from '../helpers/raw-http.js';
import { digestOf, locationOf, makeImage, OCI_MANIFEST, withQuery, type Image } from '../helpers/registry-client.js';
import { accessLinesOf, exactlyOne, ISO_TIME, UUID, type AccessLine, type LogLine } from './json-lines.js';
import { readLogFiles, startLogged, type LogFiles, type LoggedPorthole } from './logged-porthole.js';

/**
 * The fields of every line and of access lines, exactly, and secrets kept out of both files.
 * The config file says `panic` and the flag says `trace`: the flag must win, and at trace every
 * line porthole can write for these requests is in the file.
 */

const REPO = 'lines/app';
const REFUSED_PATH = '/v2/bad%zz/manifests/x';
const USER_AGENT = 'porthole-log-tests/1.0';
const SECRETS = {
  token: 'tok-3f1d9a7c55e0',
  password: 'pw-c0ffee-8812',
  basic: 'basic-pw-51d2e7',
  bearer: 'bearer-9a8b7c6d',
  signature: 'sig-0042deadbeef',
  accessToken: 'at-77e1f0aa',
};
const BASIC = `Basic ${Buffer.from(`alice:${SECRETS.basic}`).toString('base64')}`;

let work: string;
let files: LoggedPorthole;
let written: LogFiles;
let image: Image;
let blob: Buffer;
let uploadId: string;

function request(options: RawRequest) {
  return raw(files.porthole.url, { ...options, headers: { 'user-agent': USER_AGENT, ...options.headers } });
}

/** One request of each kind whose access line is checked field by field. */
async function requestsWithKnownLines(): Promise<void> {
  image = await makeImage(files.porthole.url, REPO, { tag: 'v1' });
  blob = randomBytes(3000);
  const start = await request({ method: 'POST', path: `/v2/${REPO}/blobs/uploads/`, headers: { 'content-length': 0 } });
  assertStatus(start, 202);
  uploadId = locationOf(start).split('/').at(-1) as string;
  const put = await request({
    method: 'PUT',
    path: withQuery(locationOf(start), `digest=${digestOf(blob)}`),
    headers: { 'content-type': 'application/octet-stream', 'content-length': blob.length },
    body: blob,
  });
  assertStatus(put, 201);
  assertStatus(await request({ path: `/v2/${REPO}/manifests/v1`, headers: { accept: OCI_MANIFEST } }), 200);
  assertStatus(await request({ method: 'HEAD', path: `/v2/${REPO}/blobs/${digestOf(blob)}` }), 200);
  assertStatus(await request({ path: `/v2/${REPO}/blobs/${digestOf(blob)}` }), 200);
  assertStatus(await request({ path: '/livez' }), 200);
  // Refused by the router before any route runs: logged and audited all the same.
  assertStatus(await request({ method: 'DELETE', path: REFUSED_PATH }), 400);
}

/** Credentials in headers and in query strings, on reads and on (audited) writes. */
async function requestsWithSecrets(): Promise<void> {
  const query = `token=${SECRETS.token}&password=${SECRETS.password}&n=1`;
  assertStatus(await request({ path: `/v2/?${query}`, headers: { authorization: BASIC } }), 200);
  const upload = await request({
    method: 'POST',
    path: `/v2/${REPO}/blobs/uploads/?access_token=${SECRETS.accessToken}`,
    headers: { authorization: `Bearer ${SECRETS.bearer}`, 'content-length': 0 },
  });
  assertStatus(upload, 202);
  assertStatus(await request({ method: 'DELETE', path: `${locationOf(upload)}?password=${SECRETS.password}`, headers: { authorization: BASIC } }), 204);
  const signed = `/v2/${REPO}/blobs/${digestOf(blob)}?X-Amz-Signature=${SECRETS.signature}&X-Amz-Expires=60`;
  assertStatus(await request({ path: signed, headers: { authorization: BASIC } }), 200);
}

before(async () => {
  work = await tempDir('log-lines');
  files = await startLogged({ dir: work, config: { log: { level: 'panic' } }, args: ['--log-level', 'trace'] });
  await requestsWithKnownLines();
  files.porthole.process.kill('SIGHUP');
  // The reopen is asynchronous; requests after it must land in the same (reopened) file.
  await sleep(100);
  await requestsWithSecrets();
  assertStatus(await request({ method: 'DELETE', path: `/v2/${REPO}/manifests/${image.manifestDigest}` }), 202);
  assert.equal(await files.porthole.stop(), 0);
  written = await readLogFiles(files);
});

after(() => cleanup(work));

/** The access line of the one request with this method, path and query string (none when omitted). */
function accessLine(method: string, path: string, query?: string): AccessLine {
  return exactlyOne(accessLinesOf(written.log), (line) => line.method === method && line.path === path && line.query === query, `${method} ${path}?${query ?? ''}`);
}

/** An access line without the fields that vary from run to run, after checking their shape. */
function stableFields(line: AccessLine): Partial<AccessLine> {
  const { time, latency, reqId, replica, ...fields } = line;
  assert.match(time, ISO_TIME);
  assert.match(replica ?? '', REPLICA_ID);
  assert.match(reqId ?? '', UUID);
  assert.ok(typeof latency === 'number' && latency >= 0 && latency < 10, `latency in seconds: ${latency}`);
  return fields;
}

/** A replica's default id when it binds port 0 (config/replica-id.ts): the host's name and its process. */
const REPLICA_ID = new RegExp(`^${hostname().replaceAll('.', '\\.')}:pid\\d+$`);

/** What the access line of a request by these tests always holds. */
const SERVED = { level: 'info', module: 'http', msg: 'request served', clientIP: '127.0.0.1', userAgent: USER_AGENT, user: 'anonymous' } as const;

describe('log lines', () => {
  it('--log-level overrides log.level of the config file', () => {
    assert.ok(written.log.some((line) => line.level === 'debug'), 'debug lines are written although the file says panic');
  });

  it('every line has an ISO time with milliseconds, a level name, a msg and a module', () => {
    assert.ok(written.log.length >= 15);
    for (const line of written.log) {
      const shown = JSON.stringify(line);
      assert.match(line.time, ISO_TIME, shown);
      assert.ok((LOG_LEVELS as readonly string[]).includes(line.level), shown);
      assert.ok(typeof line.msg === 'string' && line.msg.length > 0, shown);
      assert.ok(['server', 'http', 'storage', 'ui'].includes(line.module), shown);
    }
  });

  it('every line written for a request has its reqId', () => {
    const forRequests = written.log.filter((line: LogLine) => line.module === 'http' && !line.msg.startsWith('Server listening at '));
    assert.ok(forRequests.length > 0);
    for (const line of forRequests) assert.match(line.reqId ?? '', UUID, JSON.stringify(line));
    const ids = accessLinesOf(written.log).map((line) => line.reqId);
    assert.equal(new Set(ids).size, ids.length, 'each request has its own id');
  });

  it('an upload session: repo and uploadId, then the digest and the bytes received', () => {
    assert.deepEqual(stableFields(accessLine('POST', `/v2/${REPO}/blobs/uploads/`)), {
      ...SERVED,
      method: 'POST',
      route: '/v2/:name/blobs/uploads/',
      path: `/v2/${REPO}/blobs/uploads/`,
      status: 202,
      bytesIn: 0,
      bytesOut: 0,
      repo: REPO,
      uploadId,
    });
    const query = `digest=${encodeURIComponent(digestOf(blob))}`;
    assert.deepEqual(stableFields(accessLine('PUT', `/v2/${REPO}/blobs/uploads/${uploadId}`, query)), {
      ...SERVED,
      method: 'PUT',
      route: '/v2/:name/blobs/uploads/:id',
      path: `/v2/${REPO}/blobs/uploads/${uploadId}`,
      query,
      status: 201,
      bytesIn: blob.length,
      bytesOut: 0,
      repo: REPO,
      uploadId,
      digest: digestOf(blob),
    });
  });

  it('a manifest by tag: the reference as asked and the digest served', () => {
    assert.deepEqual(stableFields(accessLine('GET', `/v2/${REPO}/manifests/v1`)), {
      ...SERVED,
      method: 'GET',
      route: '/v2/:name/manifests/:reference',
      path: `/v2/${REPO}/manifests/v1`,
      status: 200,
      bytesIn: 0,
      bytesOut: image.manifest.length,
      repo: REPO,
      reference: 'v1',
      digest: image.manifestDigest,
    });
    assert.deepEqual(stableFields(accessLine('DELETE', `/v2/${REPO}/manifests/${image.manifestDigest}`)), {
      ...SERVED,
      method: 'DELETE',
      route: '/v2/:name/manifests/:reference',
      path: `/v2/${REPO}/manifests/${image.manifestDigest}`,
      status: 202,
      bytesIn: 0,
      bytesOut: 0,
      repo: REPO,
      reference: image.manifestDigest,
      digest: image.manifestDigest,
    });
  });

  it('a blob: bytes out for GET, none for HEAD', () => {
    const path = `/v2/${REPO}/blobs/${digestOf(blob)}`;
    const common = { ...SERVED, route: '/v2/:name/blobs/:digest', path, status: 200, bytesIn: 0, repo: REPO, digest: digestOf(blob) };
    assert.deepEqual(stableFields(accessLine('HEAD', path)), { ...common, method: 'HEAD', bytesOut: 0 });
    assert.deepEqual(stableFields(accessLine('GET', path)), { ...common, method: 'GET', bytesOut: blob.length });
  });

  it('a request refused before routing (malformed percent-encoding): unrouted, logged and audited', () => {
    const line = accessLine('DELETE', REFUSED_PATH);
    assert.deepEqual(stableFields(line), {
      ...SERVED,
      method: 'DELETE',
      route: 'unrouted',
      path: REFUSED_PATH,
      status: 400,
      bytesIn: 0,
      bytesOut: line.bytesOut,
      error: 'NAME_INVALID',
    });
    const audit = exactlyOne(written.audit, (l) => l.reqId === line.reqId, 'the audit line of the refused request');
    const { time: _time, ...fields } = audit;
    assert.deepEqual(fields, {
      action: 'unrouted.delete',
      access: 'delete',
      outcome: 'failure',
      subject: 'anonymous',
      clientIP: '127.0.0.1',
      status: 400,
      reqId: line.reqId,
      path: REFUSED_PATH,
      error: 'NAME_INVALID',
    });
  });

  it('a health probe at debug', () => {
    assert.deepEqual(stableFields(accessLine('GET', '/livez')), {
      ...SERVED,
      level: 'debug',
      method: 'GET',
      route: '/livez',
      path: '/livez',
      status: 200,
      bytesIn: 0,
      bytesOut: Buffer.byteLength('{"status":"ok"}'),
    });
  });

  it('SIGHUP reopens both files, says so in each, and loses nothing', () => {
    const reopened = written.log.filter((line) => line.msg === 'log files reopened');
    assert.deepEqual(
      reopened.map((line) => [line.level, line.module, line.signal]),
      [['info', 'server', 'SIGHUP']],
    );
    const reopen = written.audit.filter((line) => line.action === 'log.reopen');
    assert.deepEqual(
      reopen.map(({ time: _time, ...fields }) => fields),
      [{ action: 'log.reopen', outcome: 'success', subject: 'porthole', detail: 'SIGHUP' }],
    );
    // Lines before and after the reopen, in order, in the one file.
    const index = written.log.indexOf(reopened[0] as LogLine);
    assert.ok(accessLinesOf(written.log.slice(0, index)).some((line) => line.path === '/livez'));
    assert.ok(accessLinesOf(written.log.slice(index)).some((line) => line.query === 'token=[REDACTED]&password=[REDACTED]&n=1'));
    assert.equal(written.log.at(-1)?.msg, 'porthole stopped');
  });
});

describe('secrets', () => {
  it('credential-like query parameters are logged as [REDACTED], the others as sent', () => {
    const queries = accessLinesOf(written.log)
      .map((line) => line.query)
      .filter((query) => query !== undefined && !query.startsWith('digest='));
    assert.deepEqual(queries, [
      'token=[REDACTED]&password=[REDACTED]&n=1',
      'access_token=[REDACTED]',
      'password=[REDACTED]',
      'X-Amz-Signature=[REDACTED]&X-Amz-Expires=60',
    ]);
  });

  it('no secret reaches either file, in any encoding', async () => {
    const texts = { log: await readFile(files.log, 'utf8'), audit: await readFile(files.audit, 'utf8') };
    const forms = Object.values(SECRETS).flatMap((secret) => [secret, encodeURIComponent(secret)]);
    forms.push(BASIC, BASIC.slice('Basic '.length), 'Bearer ', 'alice');
    for (const [name, text] of Object.entries(texts)) {
      for (const form of forms) assert.ok(!text.includes(form), `${name} holds ${form}`);
    }
  });

  it('requests with credentials are still logged and audited, as anonymous', () => {
    const access = accessLinesOf(written.log);
    const start = exactlyOne(access, (line) => line.query === 'access_token=[REDACTED]', 'the upload started with a token');
    const cancel = exactlyOne(access, (line) => line.method === 'DELETE' && line.query === 'password=[REDACTED]', 'the cancel with a password');
    assert.deepEqual(
      [start, cancel].map((line) => {
        const audit = exactlyOne(written.audit, (l) => l.reqId === line.reqId, `the audit line of ${line.method} ${line.path}`);
        return [audit.action, audit.outcome, audit.subject, audit.status];
      }),
      [
        ['blob.upload.start', 'success', 'anonymous', 202],
        ['blob.upload.cancel', 'success', 'anonymous', 204],
      ],
    );
    assert.ok(access.every((line) => line.user === 'anonymous'));
  });
});
