import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUDITED_METHODS, auditAction } from '../../src/observability/audit-actions.js';
import { createAuditor } from '../../src/observability/audit.js';
import { matchRoute } from '../../src/http/routes.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('auditAction', () => {
  const cases: Array<[method: string, url: string, status: number, action: string]> = [
    ['POST', '/v2/a/blobs/uploads/', 202, 'blob.upload.start'],
    ['POST', '/v2/a/blobs/uploads/', 500, 'blob.upload.start'],
    ['POST', `/v2/a/blobs/uploads/?digest=${DIGEST}`, 201, 'blob.upload.single'],
    ['POST', `/v2/a/blobs/uploads/?digest=${DIGEST}`, 400, 'blob.upload.single'],
    ['POST', `/v2/a/blobs/uploads/?mount=${DIGEST}&from=b`, 201, 'blob.mount'],
    ['POST', `/v2/a/blobs/uploads/?mount=${DIGEST}&from=b`, 404, 'blob.mount'],
    // A mount that fell back to a new session is an upload start.
    ['POST', `/v2/a/blobs/uploads/?mount=${DIGEST}&from=b`, 202, 'blob.upload.start'],
    ['PATCH', '/v2/a/blobs/uploads/1234', 202, 'blob.upload.chunk'],
    ['PUT', `/v2/a/blobs/uploads/1234?digest=${DIGEST}`, 201, 'blob.upload.finish'],
    ['PUT', `/v2/a/blobs/uploads/1234?digest=${DIGEST}`, 400, 'blob.upload.finish'],
    ['DELETE', '/v2/a/blobs/uploads/1234', 204, 'blob.upload.cancel'],
    ['DELETE', `/v2/a/blobs/${DIGEST}`, 202, 'blob.delete'],
    ['DELETE', `/v2/a/blobs/${DIGEST}`, 405, 'blob.delete'],
    ['PUT', '/v2/a/b/manifests/v1', 201, 'manifest.put'],
    ['PUT', `/v2/a/b/manifests/${DIGEST}`, 400, 'manifest.put'],
    ['DELETE', `/v2/a/b/manifests/${DIGEST}`, 202, 'manifest.delete'],
    ['DELETE', `/v2/a/b/manifests/${DIGEST}`, 405, 'manifest.delete'],
    ['DELETE', '/v2/a/b/manifests/latest', 202, 'tag.delete'],
    ['POST', '/v2/a/tags/list', 405, 'tags.post'],
    ['PUT', `/v2/a/blobs/${DIGEST}`, 405, 'blob.put'],
    ['DELETE', `/v2/a/referrers/${DIGEST}`, 405, 'referrers.delete'],
    ['POST', '/v2/_catalog', 405, 'catalog.post'],
    ['DELETE', '/v2/', 405, 'base.delete'],
    ['PUT', '/v2/a/unknown/thing', 404, 'unrouted.put'],
    ['PATCH', '/elsewhere', 404, 'unrouted.patch'],
  ];
  for (const [method, url, status, action] of cases) {
    it(`${method} ${url} (${status}) -> ${action}`, () => {
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
      assert.equal(auditAction(method, matchRoute(path), query, status), action);
    });
  }

  it('audits the four write methods and no other', () => {
    assert.deepEqual([...AUDITED_METHODS].sort(), ['DELETE', 'PATCH', 'POST', 'PUT']);
  });
});

describe('createAuditor', () => {
  it('writes one JSON line per event, time first', () => {
    const written: string[] = [];
    const auditor = createAuditor({ write: (text: string) => written.push(text) });
    auditor.record({ action: 'server.start', outcome: 'success', subject: 'porthole', detail: '127.0.0.1:5000' });
    auditor.record({ action: 'tag.delete', outcome: 'failure', subject: 'anonymous', repo: 'a/b', reference: 'v1', status: 405, error: 'UNSUPPORTED', reqId: 'r1' });
    assert.equal(written.length, 2);
    assert.ok(written.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1));
    const [start, refused] = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(Object.keys(start ?? {}), ['time', 'action', 'outcome', 'subject', 'detail']);
    assert.match(String(start?.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.deepEqual(refused, {
      time: refused?.time,
      action: 'tag.delete',
      outcome: 'failure',
      subject: 'anonymous',
      repo: 'a/b',
      reference: 'v1',
      status: 405,
      error: 'UNSUPPORTED',
      reqId: 'r1',
    });
  });
});
