import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { header } from '../helpers/assert-registry.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { makeImage, startUpload } from '../helpers/registry-client.js';
import { snapshotStored } from '../helpers/stored-snapshot.js';
import { sharedPorthole } from '../helpers/shared-porthole.js';
import { diffTrees, type TreeDiff } from '../helpers/storage-tree.js';
import type { BadInputCase, CaseContext, Fixture } from './case.js';
import { assertCloseAfterHangUp, halfLayerSession, hangUpCases } from './hang-up-cases.js';
import { manifestCases } from './manifest-cases.js';
import { nameCases } from './name-cases.js';
import { digestCases, tagCases } from './reference-cases.js';
import { methodCases, rangeCases, sessionCases, shortLengthCases, truncationCases } from './upload-cases.js';

/**
 * Malformed requests, each with the exact status and OCI error code it must get, and then the
 * proof that none of them changed anything on disk.
 *
 * The storage tree is snapshotted after valid content is pushed and compared after the whole
 * table. The only thing the spec lets a request here create is an upload session: a POST to
 * /blobs/uploads/ opens one (uploads/<id>/...) that lives until its PUT or DELETE. The table
 * opens sessions only through `ctx.openSession`, cancels every one of them at the end (404 is
 * fine: a wrong digest already closed it), and then requires the tree to equal the snapshot
 * exactly, uploads/ included. Sessions porthole opens by itself for a single-POST upload must
 * be gone too, since the client never learns their id.
 */
const porthole = sharedPorthole();
const tables: Array<{ topic: string; cases: BadInputCase[] }> = [
  { topic: 'repository names', cases: nameCases },
  { topic: 'tags', cases: tagCases },
  { topic: 'digests', cases: digestCases },
  { topic: 'manifests', cases: manifestCases },
  { topic: 'ranges', cases: rangeCases },
  { topic: 'upload sessions', cases: sessionCases },
  { topic: 'truncated uploads', cases: truncationCases },
  { topic: 'Content-Length smaller than the body', cases: shortLengthCases },
  { topic: 'methods and parameters', cases: methodCases },
];

let fixture: Fixture;
let baseline: Map<string, string>;
const openedSessions: string[] = [];

function context(): CaseContext {
  return {
    url: porthole().url,
    fixture,
    async openSession(name = fixture.name) {
      const location = await startUpload(porthole().url, name);
      openedSessions.push(location);
      return location;
    },
  };
}

/**
 * Every finished upload leaves a record of what it stored, for a retried PUT (docs/storage.md);
 * the hang-up cases finish their sessions on purpose (201), so their records are the one addition
 * the table may make.
 */
function withoutCompletionRecords(diff: TreeDiff): TreeDiff {
  return { ...diff, added: diff.added.filter((path) => !path.startsWith('completed-uploads/')) };
}

/**
 * How the tree differs from the baseline once every request in flight has settled: hang-ups are
 * handled asynchronously by the server, so poll (bounded) until nothing differs.
 */
async function settledDiff(): Promise<TreeDiff> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const diff = withoutCompletionRecords(diffTrees(baseline, await snapshotStored(porthole())));
    const differs = diff.added.length + diff.removed.length + diff.changed.length > 0;
    if (!differs || Date.now() > deadline) return diff;
    await sleep(100);
  }
}

describe('bad input', () => {
  before(async () => {
    const name = 'bad/base';
    const image = await makeImage(porthole().url, name, { tag: 'v1', layerSize: 2048 });
    await makeImage(porthole().url, 'bad/other');
    fixture = { name, image };
    baseline = await snapshotStored(porthole());
    assert.ok(baseline.size > 10, 'the fixture should have put files on disk');
  });

  describe('malformed requests', () => {
    it('has at least 40 cases', () => {
      assert.ok(tables.reduce((sum, table) => sum + table.cases.length, 0) >= 40);
    });

    for (const { topic, cases } of tables) {
      describe(topic, () => {
        for (const badCase of cases) {
          it(`${badCase.title} → ${badCase.status} ${badCase.codes.join(', ')}`, async () => {
            const response = await badCase.send(context());
            assert.ok(response, 'no answer at all');
            const shown = response.body.toString('utf8').slice(0, 300);
            assert.equal(response.status, badCase.status, `status; body: ${shown}`);
            assert.deepEqual(errorCodes(response), badCase.codes, `codes; body: ${shown}`);
            if (badCase.codes.length > 0) assert.match(header(response, 'content-type') ?? '', /^application\/json\b/);
            for (const [name, value] of Object.entries(badCase.headers ?? {})) assert.equal(header(response, name), value, `header ${name}`);
          });
        }
      });
    }
  });

  describe('clients that hang up mid-body', () => {
    for (const hangUpCase of hangUpCases) {
      it(hangUpCase.title, async () => {
        const ctx = context();
        const session = await halfLayerSession(ctx);
        await hangUpCase.hangUp(ctx, session);
        await hangUpCase.verify(ctx, session);
      });
    }
  });

  describe('after all of it', () => {
    it('still serves the fixture', async () => {
      const manifest = await raw(porthole().url, { path: `/v2/${fixture.name}/manifests/v1` });
      assert.equal(manifest.status, 200);
      assert.ok(manifest.body.equals(fixture.image.manifest));
    });

    it('cancels every session the table opened', async () => {
      for (const location of openedSessions) {
        const answer = await raw(porthole().url, { method: 'DELETE', path: location });
        assert.ok(answer.status === 204 || answer.status === 404, `DELETE ${location}: ${answer.status}`);
      }
      assert.ok(openedSessions.length > 10);
    });

    it('left the storage tree byte for byte as it was before the table', async () => {
      assert.deepEqual(await settledDiff(), { added: [], removed: [], changed: [] });
    });

    it('closes a session right after a hang-up with only the bytes it acknowledged', async () => {
      // After the tree comparison, because it stores new blobs.
      for (let round = 0; round < 3; round += 1) await assertCloseAfterHangUp(context());
    });

    it('still accepts new content', async () => {
      const image = await makeImage(porthole().url, fixture.name, { tag: 'after', layerSize: 512 });
      const manifest = await raw(porthole().url, { path: `/v2/${fixture.name}/manifests/after` });
      assert.ok(manifest.body.equals(image.manifest));
    });
  });
});
