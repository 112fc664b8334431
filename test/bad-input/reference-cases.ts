import { raw } from '../helpers/raw-http.js';
import { OCI_MANIFEST, putManifest, withQuery } from '../helpers/registry-client.js';
import { expect, type BadInputCase } from './case.js';

/**
 * Tags outside [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} and digests that are not sha256:<64 lowercase
 * hex> or sha512:<128 lowercase hex>. The spec has no tag error code (TAG_INVALID is legacy
 * Docker); porthole refuses a push under a malformed tag with 400 MANIFEST_INVALID, and a
 * malformed digest in a blob, upload or referrers path with 400 DIGEST_INVALID ("the registry
 * SHOULD respond 400"). A manifest GET, HEAD or DELETE by a reference that is neither a tag nor a
 * digest looks up something that cannot exist: 404 MANIFEST_UNKNOWN, as distribution and zot
 * answer and as clients probing a registry expect.
 */
const HEX64 = 'a'.repeat(64);

function pushFixtureAs(reference: string): BadInputCase['send'] {
  return (ctx) => putManifest(ctx.url, ctx.fixture.name, reference, ctx.fixture.image.manifest, OCI_MANIFEST);
}

function getBlob(digest: string): BadInputCase['send'] {
  return (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/blobs/${digest}` });
}

export const tagCases: BadInputCase[] = [
  { title: 'a tag of 129 characters (PUT)', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('t'.repeat(129)) },
  {
    title: 'a tag of 129 characters (GET)',
    ...expect(404, 'MANIFEST_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/manifests/${'t'.repeat(129)}` }),
  },
  {
    title: 'a tag starting with . (GET)',
    ...expect(404, 'MANIFEST_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/manifests/.hidden` }),
  },
  {
    title: 'a tag with + in it (HEAD)',
    status: 404,
    codes: [],
    send: (ctx) => raw(ctx.url, { method: 'HEAD', path: `/v2/${ctx.fixture.name}/manifests/1.0+build` }),
  },
  {
    title: 'a tag with an encoded space (DELETE)',
    ...expect(404, 'MANIFEST_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { method: 'DELETE', path: `/v2/${ctx.fixture.name}/manifests/a%20b` }),
  },
  { title: 'a tag starting with .', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('.hidden') },
  { title: 'a tag starting with -', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('-rc1') },
  { title: 'a tag with + in it', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('1.0+build') },
  { title: 'a tag with an encoded space', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('a%20b') },
  { title: 'a tag with an encoded slash', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('a%2Fb') },
  { title: 'a tag that is .. (encoded)', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('%2e%2e') },
  {
    title: 'a bad ?tag= on a push by digest',
    ...expect(400, 'MANIFEST_INVALID'),
    send: (ctx) => pushFixtureAs(`${ctx.fixture.image.manifestDigest}?tag=good&tag=-bad`)(ctx),
  },
  { title: '?tag= on a push by tag', ...expect(400, 'MANIFEST_INVALID'), send: pushFixtureAs('v2?tag=v3') },
];

export const digestCases: BadInputCase[] = [
  { title: 'an unsupported algorithm (md5)', ...expect(400, 'DIGEST_INVALID'), send: getBlob(`md5:${'a'.repeat(32)}`) },
  { title: 'a sha256 digest of 63 hex characters', ...expect(400, 'DIGEST_INVALID'), send: getBlob(`sha256:${'a'.repeat(63)}`) },
  { title: 'a sha512 digest of sha256 length', ...expect(400, 'DIGEST_INVALID'), send: getBlob(`sha512:${HEX64}`) },
  { title: 'uppercase hex', ...expect(400, 'DIGEST_INVALID'), send: getBlob(`sha256:${'A'.repeat(64)}`) },
  { title: 'non-hex characters', ...expect(400, 'DIGEST_INVALID'), send: getBlob(`sha256:${'z'.repeat(64)}`) },
  { title: 'an uppercase algorithm', ...expect(400, 'DIGEST_INVALID'), send: getBlob(`SHA256:${HEX64}`) },
  { title: 'no encoded part', ...expect(400, 'DIGEST_INVALID'), send: getBlob('sha256:') },
  {
    title: 'a bad digest on HEAD of a manifest',
    status: 404,
    codes: [],
    send: (ctx) => raw(ctx.url, { method: 'HEAD', path: `/v2/${ctx.fixture.name}/manifests/sha256:${'a'.repeat(65)}` }),
  },
  {
    title: 'a bad digest on GET of a manifest',
    ...expect(404, 'MANIFEST_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/manifests/sha256:${'a'.repeat(63)}` }),
  },
  {
    title: 'an unsupported algorithm on DELETE of a manifest',
    ...expect(404, 'MANIFEST_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { method: 'DELETE', path: `/v2/${ctx.fixture.name}/manifests/md5:${'a'.repeat(32)}` }),
  },
  {
    title: 'a bad digest on referrers',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/referrers/sha256:nothex` }),
  },
  {
    title: 'a bad digest on blob DELETE',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) => raw(ctx.url, { method: 'DELETE', path: `/v2/${ctx.fixture.name}/blobs/sha256:${'a'.repeat(10)}` }),
  },
  {
    title: 'a bad digest on a single-POST upload (no session may be left)',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) =>
      raw(ctx.url, { method: 'POST', path: `/v2/${ctx.fixture.name}/blobs/uploads/?digest=sha256:short`, headers: { 'content-length': 5 }, body: 'hello' }),
  },
  {
    title: 'an unsupported digest-algorithm on POST',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) => raw(ctx.url, { method: 'POST', path: `/v2/${ctx.fixture.name}/blobs/uploads/?digest-algorithm=md5`, headers: { 'content-length': 0 } }),
  },
  {
    title: 'a PUT that closes an upload without a digest',
    ...expect(400, 'DIGEST_INVALID'),
    send: async (ctx) => raw(ctx.url, { method: 'PUT', path: await ctx.openSession(), headers: { 'content-length': 0 } }),
  },
  {
    title: 'a PUT that closes an upload with a malformed digest',
    ...expect(400, 'DIGEST_INVALID'),
    send: async (ctx) => raw(ctx.url, { method: 'PUT', path: withQuery(await ctx.openSession(), 'digest=sha256:xyz'), headers: { 'content-length': 0 } }),
  },
];
