import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { PodmanStore } from '../e2e/podman-store.js';
import { CommandError } from '../e2e/run-command.js';
import { assertError, assertStatus } from '../helpers/assert-registry.js';
import { cleanup, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { socketExchange } from '../helpers/raw-socket.js';
import { digestOf, OCI_MANIFEST, putManifest, startUpload, withQuery } from '../helpers/registry-client.js';
import { hasTool, requireTools } from '../helpers/tools.js';
import { accessLinesOf, exactlyOne, ISO_TIME, requestAuditLines, UUID, type AccessLine, type AuditLine } from './json-lines.js';
import { readLogFiles, startLogged, type LogFiles } from './logged-porthole.js';

/**
 * The audit log against real clients. One porthole (deletion on) takes a skopeo push, reads by
 * skopeo, podman and by hand, a set of hand-made writes (mount, cancel, tag and blob deletes, wrong
 * digests, writes to read-only and unknown paths, a client hanging up), then a skopeo delete;
 * a second one (deletion off) on the same storage and the same files takes a new push and a
 * refused delete. Every audit line of that history is checked field by field.
 */

const REPO = 'audit/app';
const COPY = 'audit/copy';
/** What every audit line of an anonymous local client carries. */
const CLIENT = { subject: 'anonymous', clientIP: '127.0.0.1' } as const;
const WRONG_DIGEST = digestOf('not the bytes that were sent');

let work: string;
let image: LayoutDescription;
let history: LogFiles;
const ports: number[] = [];
let refusedSkopeoDelete: unknown;

function dockerRef(porthole: PortholeProcess, tag: string): string {
  return `docker://${porthole.host}/${REPO}:${tag}`;
}

async function writesAndReads(porthole: PortholeProcess, sandbox: ContainersSandbox): Promise<void> {
  const { url } = porthole;
  await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, dockerRef(porthole, image.tag)]);

  // Reads, by skopeo, podman and by hand: none of them may reach the audit log.
  await sandbox.skopeo(['inspect', '--tls-verify=false', dockerRef(porthole, image.tag)]);
  await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', dockerRef(porthole, image.tag), `oci:${join(work, 'copied-out')}:${image.tag}`]);
  if (hasTool('podman')) {
    const store = await PodmanStore.create(sandbox);
    try {
      await store.podman(['pull', '--quiet', '--tls-verify=false', `${porthole.host}/${REPO}:${image.tag}`]);
    } finally {
      await store.dispose();
    }
  }
  const layer = image.images[0]?.layers[0]?.digest as string;
  const manifest = await raw(url, { path: `/v2/${REPO}/manifests/${image.tag}`, headers: { accept: OCI_MANIFEST } });
  assertStatus(manifest, 200);
  for (const path of [`/v2/${REPO}/manifests/${image.root.digest}`, `/v2/${REPO}/blobs/${layer}`]) {
    assertStatus(await raw(url, { method: 'HEAD', path }), 200);
    assertStatus(await raw(url, { path }), 200);
  }
  for (const path of ['/v2/', '/v2/_catalog', `/v2/${REPO}/tags/list`]) assertStatus(await raw(url, { path }), 200);

  // Writes by hand, one of each kind that skopeo does not make.
  assertStatus(await raw(url, { method: 'POST', path: `/v2/${COPY}/blobs/uploads/?mount=${layer}&from=${REPO}` }), 201);
  assertStatus(await raw(url, { method: 'DELETE', path: `/v2/${COPY}/blobs/${layer}` }), 202);
  assertStatus(await raw(url, { method: 'DELETE', path: await startUpload(url, REPO) }), 204);
  assertStatus(await putManifest(url, REPO, 'extra', manifest.body, OCI_MANIFEST), 201);
  assertStatus(await raw(url, { method: 'DELETE', path: `/v2/${REPO}/manifests/extra` }), 202);
  assertError(await raw(url, { method: 'POST', path: `/v2/${REPO}/tags/list` }), 405, 'UNSUPPORTED');
  assertError(await raw(url, { method: 'PUT', path: '/v2/no-such-endpoint' }), 404, 'UNSUPPORTED');

  // Failed uploads: a whole blob, and the closing PUT of a session, each with the wrong digest.
  const bytes = { 'content-type': 'application/octet-stream', 'content-length': 5 };
  assertError(await raw(url, { method: 'POST', path: `/v2/${REPO}/blobs/uploads/?digest=${WRONG_DIGEST}`, headers: bytes, body: 'bytes' }), 400, 'DIGEST_INVALID');
  const session = await startUpload(url, REPO);
  const finish = await raw(url, { method: 'PUT', path: withQuery(session, `digest=${WRONG_DIGEST}`), headers: bytes, body: 'bytes' });
  assertError(finish, 400, 'DIGEST_INVALID');

  // A client that hangs up half-way through a manifest.
  await socketExchange(url, {
    method: 'PUT',
    path: `/v2/${REPO}/manifests/torn`,
    headers: { 'content-type': OCI_MANIFEST, 'content-length': 500 },
    body: '{"schemaVersion":2,',
    mode: 'hang-up',
    pauseMs: 50,
  });

  await sandbox.skopeo(['delete', '--tls-verify=false', dockerRef(porthole, image.tag)]);
}

/** The same storage with deletion off: a push again (the blobs are there), then deletes refused. */
async function refusedDeletes(porthole: PortholeProcess, sandbox: ContainersSandbox): Promise<void> {
  await sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, dockerRef(porthole, image.tag)]);
  refusedSkopeoDelete = await sandbox.skopeo(['delete', '--tls-verify=false', dockerRef(porthole, image.tag)]).catch((err: unknown) => err);
  const layer = image.images[0]?.layers[0]?.digest as string;
  assertError(await raw(porthole.url, { method: 'DELETE', path: `/v2/${REPO}/blobs/${layer}` }), 405, 'UNSUPPORTED');
}

before(async () => {
  work = await tempDir('log-audit');
  if (!hasTool('skopeo')) return;
  image = await buildOciLayout({ dir: join(work, 'image'), tag: 'v1', seed: 'audit', layers: 2, fileBytes: 16 * 1024 });
  const sandbox = await ContainersSandbox.create();
  const logs = join(work, 'logs');
  const root = join(work, 'root');
  await mkdir(logs);
  try {
    const deleting = await startLogged({ dir: logs, root });
    ports.push(deleting.porthole.port);
    try {
      await writesAndReads(deleting.porthole, sandbox);
    } finally {
      await deleting.porthole.stop();
    }
    const keeping = await startLogged({ dir: logs, root, config: { storage: { delete: { enabled: false } } } });
    ports.push(keeping.porthole.port);
    try {
      await refusedDeletes(keeping.porthole, sandbox);
    } finally {
      await keeping.porthole.stop();
    }
    history = await readLogFiles(keeping);
  } finally {
    await sandbox.dispose();
  }
});

after(() => cleanup(work));

/** The audit lines of requests, with the access line of the same request id. */
function requestLines(): Array<{ audit: AuditLine; access: AccessLine }> {
  const access = accessLinesOf(history.log);
  return requestAuditLines(history.audit).map((audit) => ({
    audit,
    access: exactlyOne(access, (line) => line.reqId === audit.reqId, `the access line with the reqId of ${JSON.stringify(audit)}`),
  }));
}

/** An audit line without its time, which is checked on its own. */
function fieldsOf(line: AuditLine): Omit<AuditLine, 'time'> {
  assert.match(line.time, ISO_TIME);
  const { time: _time, ...fields } = line;
  return fields;
}

/** The one audit line that `matches`. */
function theLine(matches: (line: AuditLine) => boolean, what: string): AuditLine {
  return exactlyOne(history.audit, matches, what);
}

/** Which request method each action is made by, for the cross-check with the access log. */
const METHOD_OF: Record<string, string> = {
  'blob.upload.start': 'POST',
  'blob.upload.chunk': 'PATCH',
  'blob.upload.finish': 'PUT',
  'blob.upload.cancel': 'DELETE',
  'blob.upload.single': 'POST',
  'blob.mount': 'POST',
  'blob.delete': 'DELETE',
  'manifest.put': 'PUT',
  'manifest.delete': 'DELETE',
  'tag.delete': 'DELETE',
  'tags.post': 'POST',
  'unrouted.put': 'PUT',
};

describe('the audit log', () => {
  it('records a skopeo push as start, chunk and finish of each blob, then manifest.put', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const [first] = image.images;
    assert.ok(first);
    const pushed = [first.config.digest, ...first.layers.map((l) => l.digest)];
    const finishes = pushed.map((digest) => theLine((l) => l.action === 'blob.upload.finish' && l.digest === digest && l.outcome === 'success', `the upload of ${digest}`));
    for (const [index, finish] of finishes.entries()) {
      const uploadId = finish.uploadId as string;
      assert.match(uploadId, UUID);
      const session = history.audit.filter((line) => line.uploadId === uploadId);
      assert.deepEqual(
        session.map(fieldsOf),
        [
          { action: 'blob.upload.start', access: 'push', outcome: 'success', ...CLIENT, repo: REPO, uploadId, status: 202, reqId: session[0]?.reqId },
          { action: 'blob.upload.chunk', access: 'push', outcome: 'success', ...CLIENT, repo: REPO, uploadId, status: 202, reqId: session[1]?.reqId },
          { action: 'blob.upload.finish', access: 'push', outcome: 'success', ...CLIENT, repo: REPO, uploadId, digest: pushed[index], status: 201, reqId: finish.reqId },
        ],
        `the upload session of ${pushed[index]}`,
      );
    }
    // Pushed twice (the second time by the porthole that keeps everything): the blobs were there
    // by then, so the second push wrote only its manifest.
    const manifestPuts = history.audit.filter((line) => line.action === 'manifest.put' && line.reference === image.tag);
    assert.deepEqual(
      manifestPuts.map(fieldsOf),
      [0, 1].map((n) => ({ action: 'manifest.put', access: 'push', outcome: 'success', ...CLIENT, repo: REPO, reference: image.tag, digest: image.root.digest, status: 201, reqId: manifestPuts[n]?.reqId })),
    );
    // Besides the push's sessions, the ones made by hand: two starts and a cancel.
    const uploads = history.audit.filter((line) => line.action.startsWith('blob.upload.') && line.repo === REPO && line.outcome === 'success');
    assert.equal(uploads.length, pushed.length * 3 + 3);
  });

  it('records skopeo delete as manifest.delete of the digest the tag named', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const line = theLine((l) => l.action === 'manifest.delete' && l.outcome === 'success', 'the delete');
    assert.deepEqual(fieldsOf(line), {
      action: 'manifest.delete', access: 'delete',
      outcome: 'success',
      ...CLIENT,
      repo: REPO,
      reference: image.root.digest,
      digest: image.root.digest,
      status: 202,
      reqId: line.reqId,
    });
  });

  it('records deletes refused because deletion is off as failures, 405 UNSUPPORTED', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    assert.ok(refusedSkopeoDelete instanceof CommandError, 'skopeo delete failed against the porthole that keeps everything');
    const manifest = theLine((l) => l.action === 'manifest.delete' && l.outcome === 'failure', 'the refused manifest delete');
    assert.deepEqual(fieldsOf(manifest), {
      action: 'manifest.delete', access: 'delete',
      outcome: 'failure',
      ...CLIENT,
      repo: REPO,
      reference: image.root.digest,
      digest: image.root.digest,
      status: 405,
      error: 'UNSUPPORTED',
      reqId: manifest.reqId,
    });
    const layer = image.images[0]?.layers[0]?.digest;
    const blob = theLine((l) => l.action === 'blob.delete' && l.repo === REPO, 'the refused blob delete');
    assert.deepEqual(fieldsOf(blob), { action: 'blob.delete', access: 'delete', outcome: 'failure', ...CLIENT, repo: REPO, digest: layer, status: 405, error: 'UNSUPPORTED', reqId: blob.reqId });
  });

  it('records uploads with the wrong digest as failures, 400 DIGEST_INVALID', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const single = theLine((l) => l.action === 'blob.upload.single', 'the single-request upload');
    assert.deepEqual(fieldsOf(single), {
      action: 'blob.upload.single', access: 'push',
      outcome: 'failure',
      ...CLIENT,
      repo: REPO,
      digest: WRONG_DIGEST,
      status: 400,
      error: 'DIGEST_INVALID',
      reqId: single.reqId,
    });
    const finish = theLine((l) => l.action === 'blob.upload.finish' && l.outcome === 'failure', 'the closing PUT');
    assert.match(finish.uploadId ?? '', UUID);
    assert.deepEqual(fieldsOf(finish), {
      action: 'blob.upload.finish', access: 'push',
      outcome: 'failure',
      ...CLIENT,
      repo: REPO,
      uploadId: finish.uploadId,
      digest: WRONG_DIGEST,
      status: 400,
      error: 'DIGEST_INVALID',
      reqId: finish.reqId,
    });
  });

  it('records the other writes under their own actions', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const layer = image.images[0]?.layers[0]?.digest;
    const expectations: Array<Omit<AuditLine, 'time' | 'reqId' | 'subject' | 'clientIP'>> = [
      { action: 'blob.mount', access: 'push', outcome: 'success', repo: COPY, digest: layer, from: REPO, status: 201 },
      { action: 'blob.delete', access: 'delete', outcome: 'success', repo: COPY, digest: layer, status: 202 },
      { action: 'tag.delete', access: 'delete', outcome: 'success', repo: REPO, reference: 'extra', status: 202 },
      { action: 'tags.post', access: 'push', outcome: 'failure', repo: REPO, status: 405, error: 'UNSUPPORTED' },
      { action: 'unrouted.put', access: 'push', outcome: 'failure', path: '/v2/no-such-endpoint', status: 404, error: 'UNSUPPORTED' },
    ];
    for (const expected of expectations) {
      const line = theLine((l) => l.action === expected.action && l.repo === expected.repo, expected.action);
      assert.deepEqual(fieldsOf(line), { ...CLIENT, ...expected, reqId: line.reqId });
    }
    const cancel = theLine((l) => l.action === 'blob.upload.cancel', 'the cancelled upload');
    assert.deepEqual(fieldsOf(cancel), { action: 'blob.upload.cancel', access: 'push', outcome: 'success', ...CLIENT, repo: REPO, uploadId: cancel.uploadId, status: 204, reqId: cancel.reqId });
    assert.equal(history.audit.filter((l) => l.uploadId === cancel.uploadId).map((l) => l.action).join(), 'blob.upload.start,blob.upload.cancel');
  });

  it('records a write whose client hung up mid-body, with what porthole answered', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const line = theLine((l) => l.reference === 'torn', 'the torn manifest');
    assert.deepEqual(fieldsOf(line), {
      action: 'manifest.put', access: 'push',
      outcome: 'failure',
      ...CLIENT,
      repo: REPO,
      reference: 'torn',
      status: 400,
      error: 'SIZE_INVALID',
      reqId: line.reqId,
    });
    const access = accessLinesOf(history.log).find((l) => l.reqId === line.reqId);
    assert.equal(access?.aborted, true, 'the access line says the connection closed early');
  });

  it('shares each request id with the access line of the same request', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    for (const { audit, access } of requestLines()) {
      assert.match(audit.reqId ?? '', UUID);
      const what = `${audit.action} ${access.method} ${access.path}`;
      assert.equal(access.method, METHOD_OF[audit.action], what);
      assert.equal(access.status, audit.status, what);
      assert.equal(access.repo, audit.repo, what);
      assert.equal(access.clientIP, audit.clientIP, what);
    }
  });

  it('records every write and no read', (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const access = accessLinesOf(history.log);
    const audited = new Set(requestAuditLines(history.audit).map((line) => line.reqId));
    const reads = access.filter((line) => line.method === 'GET' || line.method === 'HEAD');
    const writes = access.filter((line) => !reads.includes(line));
    assert.ok(reads.filter((line) => line.userAgent?.startsWith('skopeo/')).length >= 10, 'skopeo read the image (inspect, copy out, delete)');
    if (hasTool('podman')) {
      // podman speaks as containers/image.
      assert.ok(reads.filter((line) => line.userAgent?.startsWith('containers/')).length >= 3, 'podman pulled the image');
    }
    assert.deepEqual(
      reads.filter((line) => audited.has(line.reqId)).map((line) => `${line.method} ${line.path}`),
      [],
      'reads in the audit log',
    );
    assert.deepEqual(
      writes.filter((line) => !audited.has(line.reqId)).map((line) => `${line.method} ${line.path}`),
      [],
      'writes missing from the audit log',
    );
    assert.equal(audited.size, writes.length, 'one audit line per write');
    assert.equal(requestAuditLines(history.audit).length, writes.length);
  });

  it('appends both runs to the same file, with the server events of each', async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const server = history.audit.filter((line) => line.reqId === undefined);
    assert.deepEqual(
      server.map(fieldsOf),
      ports.flatMap((port) => [
        { action: 'server.start', outcome: 'success', subject: 'porthole', detail: `127.0.0.1:${port}` },
        { action: 'server.stop', outcome: 'success', subject: 'porthole', detail: 'SIGTERM' },
      ]),
    );
    assert.equal(history.audit[0]?.action, 'server.start');
    assert.equal(history.audit.at(-1)?.action, 'server.stop');
    assert.equal((await stat(join(work, 'logs', 'audit.log'))).mode & 0o777, 0o600);
  });
});
