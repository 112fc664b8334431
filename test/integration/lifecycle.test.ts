import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { cleanup, startPorthole } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';

describe('health and graceful shutdown', () => {
  it('answers the health probes', async () => {
    const p = await startPorthole();
    try {
      for (const path of ['/livez', '/readyz', '/startupz']) {
        const response = await raw(p.url, { path });
        assert.equal(response.status, 200, path);
        assert.deepEqual(response.json(), { status: 'ok' });
      }
    } finally {
      await p.stop();
      await cleanup(p.root);
    }
  });

  it('finishes a request in flight on SIGTERM, refuses new work, and exits 0', async () => {
    const p = await startPorthole();
    const start = await raw(p.url, { method: 'POST', path: '/v2/shutdown/blobs/uploads/' });
    assert.equal(start.status, 202);
    const location = String(start.headers.location);

    // A chunk sent in two halves, with SIGTERM in between: it must still be accepted, while a
    // new connection made during the drain is refused.
    const half = Buffer.alloc(64 * 1024, 7);
    let duringDrain: Promise<string> = Promise.resolve('not tried');
    const answered = new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: p.port, method: 'PATCH', path: location, headers: { 'content-length': half.length * 2 } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(half);
      setTimeout(() => {
        p.process.kill('SIGTERM');
        setTimeout(() => {
          duringDrain = raw(p.url, { path: '/v2/' }).then(
            (r) => `answered ${r.status}`,
            (err: NodeJS.ErrnoException) => err.code ?? String(err),
          );
          setTimeout(() => req.end(half), 200);
        }, 200);
      }, 200);
    });
    assert.equal(await answered, 202);
    assert.equal(await duringDrain, 'ECONNREFUSED');
    const code = await p.stop();
    assert.equal(code, 0);
    assert.match(p.output(), /shutting down/);
    assert.match(p.output(), /porthole stopped/);
    await cleanup(p.root);
  });
});

describe('upload expiry', () => {
  it('removes sessions idle longer than storage.uploadExpiry', async () => {
    const p = await startPorthole({ config: 'storage:\n  uploadExpiry: 1s\n  uploadPurgeInterval: 200ms\n' });
    try {
      const start = await raw(p.url, { method: 'POST', path: '/v2/expiry/blobs/uploads/' });
      const location = String(start.headers.location);
      assert.equal((await raw(p.url, { path: location })).status, 204);
      const deadline = Date.now() + 10_000;
      let status = 204;
      while (status === 204 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        status = (await raw(p.url, { path: location })).status;
      }
      assert.equal(status, 404, 'the idle session was purged');
    } finally {
      await p.stop();
      await cleanup(p.root);
    }
  });
});
