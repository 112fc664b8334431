import { raw } from '../helpers/raw-http.js';
import { OCI_MANIFEST, putManifest } from '../helpers/registry-client.js';
import { expect, type BadInputCase } from './case.js';

/**
 * Repository names outside the spec's grammar
 * ([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*) or over 255
 * characters, on every kind of endpoint. Paths are sent as written (no `..` collapsing), and
 * percent-encoded names are decoded by porthole before they are checked.
 */
const get = (path: string): BadInputCase['send'] => (ctx) => raw(ctx.url, { path });

export const nameCases: BadInputCase[] = [
  { title: 'uppercase letters', ...expect(400, 'NAME_INVALID'), send: get('/v2/Bad/Base/tags/list') },
  { title: 'a literal .. component', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad/../base/tags/list') },
  { title: 'a name that is only ..', ...expect(400, 'NAME_INVALID'), send: get('/v2/../manifests/v1') },
  { title: 'a percent-encoded .. (%2e%2e)', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad/%2e%2e/base/manifests/v1') },
  { title: 'an encoded slash that hides a .. (%2F..%2F)', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad%2F..%2Fbase/tags/list') },
  { title: 'an empty component (a//b)', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad//base/tags/list') },
  { title: 'a trailing slash', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad/base//manifests/v1') },
  { title: 'a leading -', ...expect(400, 'NAME_INVALID'), send: get('/v2/-bad/tags/list') },
  { title: 'a leading _ (_x)', ...expect(400, 'NAME_INVALID'), send: get('/v2/_x/tags/list') },
  { title: 'a trailing .', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad./tags/list') },
  { title: 'three underscores in a row', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad___base/tags/list') },
  { title: 'an encoded NUL byte', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad%00/tags/list') },
  { title: 'a malformed percent-encoding', ...expect(400, 'NAME_INVALID'), send: get('/v2/bad%zz/tags/list') },
  { title: '256 characters', ...expect(400, 'NAME_INVALID'), send: get(`/v2/${'a'.repeat(256)}/tags/list`) },
  { title: 'ten thousand characters', ...expect(400, 'NAME_INVALID'), send: get(`/v2/${'a/'.repeat(5000)}b/tags/list`) },
  {
    title: 'an invalid name on POST (no session may be created)',
    ...expect(400, 'NAME_INVALID'),
    send: (ctx) => raw(ctx.url, { method: 'POST', path: '/v2/Bad/blobs/uploads/', headers: { 'content-length': 0 } }),
  },
  {
    title: 'an invalid name on a manifest PUT',
    ...expect(400, 'NAME_INVALID'),
    send: (ctx) => putManifest(ctx.url, 'bad/../escape', 'v1', ctx.fixture.image.manifest, OCI_MANIFEST),
  },
];
