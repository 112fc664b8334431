import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameUse, requestAction } from '../../src/http/request-action.js';
import { matchRoute } from '../../src/http/routes.js';

function actionOf(method: string, path: string) {
  return requestAction(method, matchRoute(path)?.kind);
}

describe('request actions', () => {
  it('names each request by what access control asks of it', () => {
    const cases: Array<[string, string, string]> = [
      ['GET', '/v2/', 'ping'],
      ['GET', '/v2/_catalog', 'catalog'],
      ['GET', '/v2/a/b/manifests/v1', 'pull'],
      ['HEAD', '/v2/a/manifests/v1', 'pull'],
      ['GET', '/v2/a/blobs/sha256:00', 'pull'],
      ['HEAD', '/v2/a/blobs/sha256:00', 'pull'],
      ['GET', '/v2/a/tags/list', 'pull'],
      ['GET', '/v2/a/referrers/sha256:00', 'pull'],
      ['POST', '/v2/a/blobs/uploads/', 'push'],
      ['GET', '/v2/a/blobs/uploads/0b8a1e6a-4f7d-4c57-9f7e-3d6f0e5b2f10', 'push'],
      ['PATCH', '/v2/a/blobs/uploads/0b8a1e6a-4f7d-4c57-9f7e-3d6f0e5b2f10', 'push'],
      ['DELETE', '/v2/a/blobs/uploads/0b8a1e6a-4f7d-4c57-9f7e-3d6f0e5b2f10', 'push'],
      ['PUT', '/v2/a/manifests/v1', 'push'],
      ['DELETE', '/v2/a/manifests/v1', 'delete'],
      ['DELETE', '/v2/a/blobs/sha256:00', 'delete'],
      ['PUT', '/v2/no/such/endpoint', 'push'],
      ['GET', '/somewhere', 'pull'],
    ];
    for (const [method, path, expected] of cases) assert.equal(actionOf(method, path), expected, `${method} ${path}`);
  });

  it('lets only pulls of manifests, blobs and tag lists fall back to the default namespace, never a blob HEAD', () => {
    const use = (method: string, path: string) => nameUse(method, matchRoute(path)?.kind);
    assert.equal(use('GET', '/v2/a/manifests/v1'), 'pull');
    assert.equal(use('HEAD', '/v2/a/manifests/v1'), 'pull');
    assert.equal(use('GET', '/v2/a/blobs/sha256:00'), 'pull');
    assert.equal(use('GET', '/v2/a/tags/list'), 'pull');
    assert.equal(use('HEAD', '/v2/a/blobs/sha256:00'), 'other');
    assert.equal(use('GET', '/v2/a/referrers/sha256:00'), 'other');
    assert.equal(use('PUT', '/v2/a/manifests/v1'), 'other');
    assert.equal(use('POST', '/v2/a/blobs/uploads/'), 'other');
  });
});
