import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertStatus, header } from '../helpers/assert-registry.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { digestOf, startUpload, withQuery } from '../helpers/registry-client.js';
import { assertBlobStoreConsistent } from './store-checks.js';

/**
 * kill -9 inside the closing PUT of a chunked upload, at a random instant of its commit (verify,
 * fsync, link into blobs/, link into the repository, record, remove the session). Every chunk was
 * acknowledged (202) before the PUT, so after a restart one of two things must hold, in every
 * trial: the blob is linked (and a retried PUT answers 201), or the session still holds every
 * acknowledged byte (and a retried PUT stores it, 201). Before the commit hard-linked the data,
 * a kill between moving the data and linking it left a session of 0 bytes, a blob nobody could
 * see, and a retry that got 400 DIGEST_INVALID, about one trial in twenty.
 */
const MiB = 1024 * 1024;
const BLOB = 16 * MiB;
const CHUNK = 4 * MiB;
const TRIALS = 30;
const NAME = 'crash/put-window';
const octets = { 'content-type': 'application/octet-stream' };

type Outcome = 'answered before the kill' | 'linked' | 'session whole';

async function uploadInChunks(url: string, data: Buffer): Promise<string> {
  const session = await startUpload(url, NAME);
  for (let start = 0; start < data.length; start += CHUNK) {
    const chunk = data.subarray(start, start + CHUNK);
    const answer = await raw(url, {
      method: 'PATCH',
      path: session,
      headers: { ...octets, 'content-range': `${start}-${start + chunk.length - 1}`, 'content-length': chunk.length },
      body: chunk,
      timeoutMs: 30_000,
    });
    assertStatus(answer, 202);
  }
  return session;
}

function closingPut(url: string, session: string, digest: string) {
  return raw(url, { method: 'PUT', path: withQuery(session, `digest=${digest}`), headers: { 'content-length': 0 }, timeoutMs: 30_000 });
}

describe('kill -9 inside the closing PUT of a chunked upload', () => {
  let root: string;
  let porthole: PortholeProcess | undefined;
  before(async () => {
    root = await tempDir('put-window');
  });
  after(async () => {
    await porthole?.stop();
    await cleanup(root);
  });

  it(`never loses an acknowledged chunk, and a retried PUT always answers 201 (${TRIALS} trials)`, async (t) => {
    porthole = await startPorthole({ root });
    // How long an uninterrupted PUT takes here: the kills are spread over that span and a little past it.
    const warmUp = randomBytes(BLOB);
    const warmSession = await uploadInChunks(porthole.url, warmUp);
    const started = performance.now();
    assertStatus(await closingPut(porthole.url, warmSession, digestOf(warmUp)), 201);
    const putMs = Math.max(5, performance.now() - started);

    // The span the kill is drawn from adapts: a kill that came after the answer shortens it, one
    // that came before lengthens it, so that the kills keep landing inside the commit.
    let spanMs = putMs;
    const outcomes = new Map<Outcome, number>();
    for (let trial = 0; trial < TRIALS; trial++) {
      const data = randomBytes(BLOB);
      const digest = digestOf(data);
      const session = await uploadInChunks(porthole.url, data);
      const put: Promise<number | undefined> = closingPut(porthole.url, session, digest).then(
        (answer) => answer.status,
        () => undefined,
      );
      await sleep(randomInt(0, Math.ceil(spanMs) + 1));
      await porthole.kill9();
      const answered = await put;
      spanMs = Math.min(putMs * 2, Math.max(2, spanMs * (answered === undefined ? 1.1 : 0.8)));
      porthole = await startPorthole({ root });

      const linked = (await raw(porthole.url, { method: 'HEAD', path: `/v2/${NAME}/blobs/${digest}` })).status === 200;
      let outcome: Outcome = answered === 201 ? 'answered before the kill' : linked ? 'linked' : 'session whole';
      if (answered !== undefined) assert.equal(answered, 201, `trial ${trial}: the PUT was answered ${answered}`);
      if (answered === 201) assert.ok(linked, `trial ${trial}: a blob acknowledged 201 is not linked after the restart`);
      if (!linked) {
        const status = await raw(porthole.url, { path: session });
        assertStatus(status, 204);
        assert.equal(header(status, 'range'), `0-${BLOB - 1}`, `trial ${trial}: the session lost acknowledged bytes`);
      }
      const retried = await closingPut(porthole.url, session, digest);
      assert.equal(retried.status, 201, `trial ${trial} (${outcome}): the retried PUT answered ${retried.status} ${retried.body.toString('utf8').slice(0, 300)}`);
      assert.equal(header(retried, 'docker-content-digest'), digest);
      const served = await raw(porthole.url, { path: `/v2/${NAME}/blobs/${digest}`, timeoutMs: 30_000 });
      assertStatus(served, 200);
      assert.equal(digestOf(served.body), digest, `trial ${trial}: the blob is not served byte for byte`);
      if (answered === undefined && linked) outcome = 'linked';
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    t.diagnostic(`PUT of ${BLOB / MiB} MiB takes ${putMs.toFixed(0)} ms here; outcomes of ${TRIALS} kills: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    assert.ok((await assertBlobStoreConsistent(root)) >= TRIALS + 1);
    assert.deepEqual(await readdir(join(root, 'uploads')), [], 'every session was finished by its retry');
  });
});
