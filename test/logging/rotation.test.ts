import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rename, stat } from 'node:fs/promises';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertStatus } from '../helpers/assert-registry.js';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { pushBlob } from '../helpers/registry-client.js';
import { accessLinesOf, outOfOrder, readJsonLines, repeated, requestAuditLines, type AccessLine, type AuditLine, type LogLine } from './json-lines.js';
import { runClients } from './load.js';
import { startLogged, type LoggedPorthole } from './logged-porthole.js';

/**
 * logrotate's move-then-SIGHUP under load: 8 clients push blobs (POST, then PUT with the body),
 * and 8 more read (GET /v2/, numbered), while the log and the audit log are renamed and porthole
 * is told to reopen them. The readers keep lines waiting in the log's buffer as the files move.
 * Between the old files and the new ones, every line must be there exactly once, whole, and in
 * order.
 */
const CLIENTS = 8;
const READERS = 8;
const BLOBS = 160;
/** Each push is two requests, both writes. */
const REQUESTS = BLOBS * 2;
/** The rotation happens once this many pushes are done, so that load runs on both sides of it. */
const ROTATE_AFTER = 50;

let work: string;
let files: LoggedPorthole;
let exitCode: number | null;
const pushed: string[] = [];
/** The numbers of the GET /v2/?read=N requests answered 200. */
const read: number[] = [];
let old: { log: LogLine[]; audit: AuditLine[] };
let fresh: { log: LogLine[]; audit: AuditLine[] };

/** Renames both files away, as logrotate does, and sends SIGHUP. */
async function rotate(): Promise<void> {
  await rename(files.log, `${files.log}.1`);
  await rename(files.audit, `${files.audit}.1`);
  assert.ok(files.porthole.process.pid !== undefined);
  process.kill(files.porthole.process.pid, 'SIGHUP');
}

before(async () => {
  work = await tempDir('log-rotation');
  files = await startLogged({ dir: work });
  let done = 0;
  let rotation: Promise<void> | undefined;
  let pushing = true;
  let nextRead = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: READERS });
  const reader = async (): Promise<void> => {
    while (pushing) {
      const n = nextRead;
      nextRead += 1;
      assertStatus(await raw(files.porthole.url, { path: `/v2/?read=${n}`, agent }), 200);
      read.push(n);
    }
  };
  const readers = Promise.all(Array.from({ length: READERS }, reader));
  try {
    await runClients(CLIENTS, BLOBS, async (n) => {
      pushed.push(await pushBlob(files.porthole.url, `rotation/client${n % CLIENTS}`, randomBytes(2048), 'post-put'));
      done += 1;
      if (done === ROTATE_AFTER) rotation = rotate();
    });
  } finally {
    pushing = false;
    await readers.finally(() => agent.destroy());
  }
  await rotation;
  exitCode = await files.porthole.stop();
  old = { log: await readJsonLines(`${files.log}.1`), audit: await readJsonLines(`${files.audit}.1`) };
  fresh = { log: await readJsonLines(files.log), audit: await readJsonLines(files.audit) };
});

after(() => cleanup(work));

function uploadLines(lines: LogLine[]): AccessLine[] {
  return accessLinesOf(lines).filter((line) => line.path.startsWith('/v2/rotation/'));
}

describe('log rotation under load', () => {
  it('exits 0 after the load', () => {
    assert.equal(exitCode, 0);
    assert.equal(pushed.length, BLOBS);
  });

  it('splits the lines between the old files and the new ones, load on both sides', () => {
    const before = uploadLines(old.log).length;
    const afterwards = uploadLines(fresh.log).length;
    assert.ok(before >= ROTATE_AFTER * 2, `${before} requests logged before the rotation`);
    assert.ok(afterwards > 0, `${afterwards} requests logged after the rotation`);
    assert.equal(old.log[0]?.msg, 'Server listening at ' + files.porthole.url);
    assert.equal(fresh.log.filter((line) => line.msg === 'log files reopened').length, 1);
    assert.equal(fresh.log.at(-1)?.msg, 'porthole stopped');
    assert.deepEqual(
      old.audit.filter((line) => line.reqId === undefined).map((line) => line.action),
      ['server.start'],
    );
    assert.deepEqual(
      fresh.audit.filter((line) => line.reqId === undefined).map((line) => line.action),
      ['log.reopen', 'server.stop'],
    );
  });

  it('writes every line before the reopen to the old file and every line after it to the new one', () => {
    for (const [name, older, newer] of [
      ['log', old.log, fresh.log],
      ['audit', old.audit, fresh.audit],
    ] as const) {
      const lastOld = older.at(-1)?.time ?? '';
      const firstNew = newer[0]?.time ?? '';
      assert.ok(lastOld <= firstNew, `${name}: the old file ends (${lastOld}) before the new one starts (${firstNew})`);
    }
  });

  it('logs each request exactly once across both files', () => {
    const served = [...uploadLines(old.log), ...uploadLines(fresh.log)];
    assert.deepEqual(repeated(served.map((line) => line.reqId)), [], 'request ids logged twice');
    assert.equal(served.length, REQUESTS);
    const finishes = served.filter((line) => line.method === 'PUT');
    assert.deepEqual(finishes.map((line) => line.digest).sort(), [...pushed].sort(), 'each pushed blob has one closing PUT');
    assert.ok(finishes.every((line) => line.status === 201));
    const starts = served.filter((line) => line.method === 'POST');
    assert.deepEqual(starts.map((line) => line.uploadId).sort(), finishes.map((line) => line.uploadId).sort(), 'each session has one start');
  });

  it('audits each write exactly once across both files, under the reqId of its access line', () => {
    const audited = [...requestAuditLines(old.audit), ...requestAuditLines(fresh.audit)];
    assert.deepEqual(repeated(audited.map((line) => line.reqId)), [], 'request ids audited twice');
    const served = [...uploadLines(old.log), ...uploadLines(fresh.log)];
    assert.deepEqual(audited.map((line) => line.reqId).sort(), served.map((line) => line.reqId).sort());
    const finished = audited.filter((line) => line.action === 'blob.upload.finish');
    assert.deepEqual(finished.map((line) => line.digest).sort(), [...pushed].sort());
    assert.equal(audited.filter((line) => line.action === 'blob.upload.start').length, BLOBS);
  });

  it('logs each read exactly once across both files, reads on both sides of the rotation', () => {
    const reads = (lines: LogLine[]): string[] =>
      accessLinesOf(lines)
        .filter((line) => line.path === '/v2/')
        .map((line) => line.query ?? '');
    const [before, afterwards] = [reads(old.log), reads(fresh.log)];
    assert.ok(before.length > 0 && afterwards.length > 0, `${before.length} reads logged before the rotation, ${afterwards.length} after`);
    const served = [...before, ...afterwards];
    assert.deepEqual(repeated(served), [], 'reads logged twice');
    const logged = new Set(served);
    const missing = read.filter((n) => !logged.has(`read=${n}`));
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} answered reads have no access line`);
  });

  it('keeps every line in the order it was logged, across the old file and the new one', () => {
    assert.deepEqual(outOfOrder([...old.log, ...fresh.log]).slice(0, 10), []);
    assert.deepEqual(outOfOrder([...old.audit, ...fresh.audit]).slice(0, 10), []);
  });

  it('creates the new files with mode 0600', async () => {
    for (const file of [files.log, files.audit]) assert.equal((await stat(file)).mode & 0o777, 0o600, file);
  });
});
