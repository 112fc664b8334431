import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchRoute } from '../../src/http/routes.js';

describe('route matching', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const cases: Array<[string, string | undefined, string?, string?]> = [
    ['/v2/', 'base'],
    ['/v2', 'base'],
    ['/v2/_catalog', 'catalog'],
    ['/v2/a/b/manifests/latest', 'manifest', 'a/b', 'latest'],
    [`/v2/a/blobs/${digest}`, 'blob', 'a', digest],
    ['/v2/a/b/c/blobs/uploads/', 'uploads', 'a/b/c'],
    ['/v2/a/blobs/uploads', 'uploads', 'a'],
    ['/v2/a/blobs/uploads/1234', 'upload', 'a', '1234'],
    ['/v2/a/tags/list', 'tags', 'a'],
    [`/v2/a/referrers/${digest}`, 'referrers', 'a', digest],
    // A name may itself contain a resource word: the suffix is matched from the end.
    ['/v2/x/manifests/y/manifests/v1', 'manifest', 'x/manifests/y', 'v1'],
    ['/v2/x/blobs/uploads/blobs/uploads/', 'uploads', 'x/blobs/uploads'],
    [`/v2/a/manifests/sha256%3A${'a'.repeat(64)}`, 'manifest', 'a', digest],
    ['/v2/a/unknown/x', undefined],
    ['/metrics', undefined],
  ];
  for (const [path, kind, name, reference] of cases) {
    it(`${path} -> ${kind ?? 'no route'}`, () => {
      const route = matchRoute(path);
      assert.equal(route?.kind, kind);
      if (name !== undefined) assert.equal(route?.name, name);
      if (reference !== undefined) assert.equal(route?.reference, reference);
    });
  }
  it('decodes %2e%2e so that the name check rejects it', () => {
    assert.equal(matchRoute('/v2/%2e%2e/tags/list')?.name, '..');
  });
  it('throws NAME_INVALID on a malformed percent-encoding', () => {
    assert.throws(() => matchRoute('/v2/a%zz/tags/list'), /percent-encoding/);
  });

  it('matches every path as the shapes written as regular expressions do', () => {
    // The reference: each shape as a regular expression, tried in the same order.
    const shapes: Array<[string, RegExp]> = [
      ['uploads', /^(.+)\/blobs\/uploads\/?$/],
      ['upload', /^(.+)\/blobs\/uploads\/([^/]+)$/],
      ['blob', /^(.+)\/blobs\/([^/]+)$/],
      ['manifest', /^(.+)\/manifests\/([^/]+)$/],
      ['tags', /^(.+)\/tags\/list$/],
      ['referrers', /^(.+)\/referrers\/([^/]+)$/],
    ];
    const expected = (rest: string): [string, string, string | undefined] | undefined => {
      for (const [kind, pattern] of shapes) {
        const match = pattern.exec(rest);
        if (match) return [kind, match[1] as string, match[2]];
      }
      return undefined;
    };
    // Paths made of the words the shapes look for, in every order, so that names holding them,
    // empty segments and doubled slashes all come up.
    const words = ['a', 'blobs', 'uploads', 'manifests', 'tags', 'list', 'referrers', '', 'x.y'];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i += 1) {
      const rest = Array.from({ length: 1 + next(6) }, () => words[next(words.length)]).join('/') + (next(4) === 0 ? '/' : '');
      if (rest === '_catalog' || rest === '') continue;
      const route = matchRoute(`/v2/${rest}`);
      const want = expected(rest);
      assert.deepEqual(route === undefined ? undefined : [route.kind, route.name, route.reference], want, rest);
    }
  });
});
