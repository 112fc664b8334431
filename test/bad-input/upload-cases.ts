import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { socketExchange, type SocketExchange } from '../helpers/raw-socket.js';
import { expectStatus, OCI_MANIFEST, withQuery } from '../helpers/registry-client.js';
import { expect, type BadInputCase, type CaseContext } from './case.js';

/**
 * Uploads gone wrong: bad ranges, unknown or foreign sessions, wrong digests, truncated data,
 * and bodies whose Content-Length is smaller than what is sent (written on a raw socket, since
 * node:http refuses to send them). The fixture layer (2048 bytes) is the content being uploaded,
 * so the cases need no data of their own.
 */
const octets = { 'content-type': 'application/octet-stream' };

/** A session that already holds the first `size` bytes of the fixture layer. */
async function sessionHolding(ctx: CaseContext, size: number): Promise<string> {
  const location = await ctx.openSession();
  const chunk = ctx.fixture.image.layer.subarray(0, size);
  const answer = await raw(ctx.url, { method: 'PATCH', path: location, headers: { ...octets, 'content-range': `0-${size - 1}`, 'content-length': size }, body: chunk });
  expectStatus(answer, 202, 'first chunk');
  return location;
}

function patch(location: string, range: string, body: Buffer, contentLength = body.length) {
  return { method: 'PATCH', path: location, headers: { ...octets, 'content-range': range, 'content-length': contentLength }, body };
}

function unknownSession(method: string): BadInputCase['send'] {
  return (ctx) => {
    const path = `/v2/${ctx.fixture.name}/blobs/uploads/${randomUUID()}`;
    return raw(ctx.url, { method, path: method === 'PUT' ? withQuery(path, `digest=${ctx.fixture.image.layerDigest}`) : path, headers: { 'content-length': 0 } });
  };
}

export const rangeCases: BadInputCase[] = [
  {
    title: 'a malformed upload Content-Range',
    ...expect(416, 'BLOB_UPLOAD_INVALID', { range: '0-9' }),
    send: async (ctx) => raw(ctx.url, patch(await sessionHolding(ctx, 10), 'bytes=ten-twenty', ctx.fixture.image.layer.subarray(10, 20))),
  },
  {
    title: 'an upload Content-Range that ends before it starts',
    ...expect(416, 'BLOB_UPLOAD_INVALID', { range: '0-9' }),
    send: async (ctx) => raw(ctx.url, patch(await sessionHolding(ctx, 10), '19-10', ctx.fixture.image.layer.subarray(10, 20))),
  },
  {
    title: 'an out-of-order chunk',
    ...expect(416, 'BLOB_UPLOAD_INVALID', { range: '0-9' }),
    send: async (ctx) => raw(ctx.url, patch(await sessionHolding(ctx, 10), '11-20', ctx.fixture.image.layer.subarray(11, 21))),
  },
  {
    title: 'an out-of-order final chunk on the closing PUT',
    ...expect(416, 'BLOB_UPLOAD_INVALID', { range: '0-9' }),
    send: async (ctx) => {
      const location = await sessionHolding(ctx, 10);
      const rest = ctx.fixture.image.layer.subarray(10);
      return raw(ctx.url, { ...patch(withQuery(location, `digest=${ctx.fixture.image.layerDigest}`), `9-${9 + rest.length - 1}`, rest), method: 'PUT' });
    },
  },
  {
    title: 'a Content-Range longer than the Content-Length',
    ...expect(400, 'SIZE_INVALID'),
    send: async (ctx) => raw(ctx.url, patch(await sessionHolding(ctx, 10), '10-29', ctx.fixture.image.layer.subarray(10, 20))),
  },
  {
    title: 'a malformed Content-Range on a single-POST upload (no session may be left)',
    ...expect(400, 'BLOB_UPLOAD_INVALID'),
    send: (ctx) =>
      raw(ctx.url, {
        method: 'POST',
        path: `/v2/${ctx.fixture.name}/blobs/uploads/?digest=${ctx.fixture.image.layerDigest}`,
        headers: { ...octets, 'content-range': 'bytes=all', 'content-length': 2048 },
        body: ctx.fixture.image.layer,
      }),
  },
  {
    title: 'an unsatisfiable blob Range',
    ...expect(416, 'SIZE_INVALID', { 'content-range': 'bytes */2048' }),
    send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/blobs/${ctx.fixture.image.layerDigest}`, headers: { range: 'bytes=2048-4000' } }),
  },
  {
    title: 'a malformed blob Range',
    ...expect(416, 'SIZE_INVALID', { 'content-range': 'bytes */2048' }),
    send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/blobs/${ctx.fixture.image.layerDigest}`, headers: { range: 'bytes=x-y' } }),
  },
];

export const sessionCases: BadInputCase[] = [
  { title: 'GET of an unknown session id', ...expect(404, 'BLOB_UPLOAD_UNKNOWN'), send: unknownSession('GET') },
  { title: 'PATCH of an unknown session id', ...expect(404, 'BLOB_UPLOAD_UNKNOWN'), send: unknownSession('PATCH') },
  { title: 'PUT of an unknown session id', ...expect(404, 'BLOB_UPLOAD_UNKNOWN'), send: unknownSession('PUT') },
  { title: 'DELETE of an unknown session id', ...expect(404, 'BLOB_UPLOAD_UNKNOWN'), send: unknownSession('DELETE') },
  {
    title: 'a session id that is not a UUID',
    ...expect(404, 'BLOB_UPLOAD_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/blobs/uploads/not-a-session` }),
  },
  {
    title: 'a session id that is ..',
    ...expect(404, 'BLOB_UPLOAD_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { method: 'PATCH', path: `/v2/${ctx.fixture.name}/blobs/uploads/..`, headers: { 'content-length': 1 }, body: 'x' }),
  },
  {
    title: 'a session id that encodes a path out of uploads/',
    ...expect(404, 'BLOB_UPLOAD_UNKNOWN'),
    send: (ctx) => raw(ctx.url, { method: 'DELETE', path: `/v2/${ctx.fixture.name}/blobs/uploads/%2e%2e%2f%2e%2e%2frepositories` }),
  },
  {
    title: 'the session id of another repository',
    ...expect(404, 'BLOB_UPLOAD_UNKNOWN'),
    send: async (ctx) => {
      const foreign = await ctx.openSession('bad/other');
      const id = foreign.slice(foreign.lastIndexOf('/') + 1);
      return raw(ctx.url, patch(`/v2/${ctx.fixture.name}/blobs/uploads/${id}`, '0-9', ctx.fixture.image.layer.subarray(0, 10)));
    },
  },
  {
    title: 'PATCH after the session was cancelled',
    ...expect(404, 'BLOB_UPLOAD_UNKNOWN'),
    send: async (ctx) => {
      const location = await sessionHolding(ctx, 10);
      expectStatus(await raw(ctx.url, { method: 'DELETE', path: location }), 204, 'cancel');
      return raw(ctx.url, patch(location, '10-19', ctx.fixture.image.layer.subarray(10, 20)));
    },
  },
  {
    title: 'a closing PUT with the digest of other content',
    ...expect(400, 'DIGEST_INVALID'),
    send: async (ctx) => {
      const location = await sessionHolding(ctx, 2048);
      return raw(ctx.url, { method: 'PUT', path: withQuery(location, `digest=${ctx.fixture.image.configDigest}`), headers: { 'content-length': 0 } });
    },
  },
  {
    title: 'a PUT on a session a wrong digest already closed',
    ...expect(404, 'BLOB_UPLOAD_UNKNOWN'),
    send: async (ctx) => {
      const location = await sessionHolding(ctx, 2048);
      const wrong = await raw(ctx.url, { method: 'PUT', path: withQuery(location, `digest=${ctx.fixture.image.configDigest}`), headers: { 'content-length': 0 } });
      expectStatus(wrong, 400, 'wrong digest');
      return raw(ctx.url, { method: 'PUT', path: withQuery(location, `digest=${ctx.fixture.image.layerDigest}`), headers: { 'content-length': 0 } });
    },
  },
];

export const truncationCases: BadInputCase[] = [
  {
    title: 'a closing PUT after only half the blob arrived',
    ...expect(400, 'DIGEST_INVALID'),
    send: async (ctx) => {
      const location = await sessionHolding(ctx, 1024);
      return raw(ctx.url, { method: 'PUT', path: withQuery(location, `digest=${ctx.fixture.image.layerDigest}`), headers: { 'content-length': 0 } });
    },
  },
  {
    title: 'a single-POST upload of half the blob under the whole blob digest',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) =>
      raw(ctx.url, {
        method: 'POST',
        path: `/v2/${ctx.fixture.name}/blobs/uploads/?digest=${ctx.fixture.image.layerDigest}`,
        headers: { ...octets, 'content-length': 1024 },
        body: ctx.fixture.image.layer.subarray(0, 1024),
      }),
  },
  {
    title: 'a final chunk shorter than its Content-Range',
    ...expect(400, 'SIZE_INVALID'),
    send: async (ctx) => {
      const location = await sessionHolding(ctx, 1024);
      const half = ctx.fixture.image.layer.subarray(1024, 1536);
      return raw(ctx.url, { ...patch(withQuery(location, `digest=${ctx.fixture.image.layerDigest}`), '1024-2047', half), method: 'PUT' });
    },
  },
];

/**
 * Content-Length smaller than the bytes sent: porthole must judge the request on exactly the
 * bytes Content-Length covers, and read what follows as the next request. The bytes after the
 * declared end are a complete GET /v2/, so its 200 proves where porthole cut the body. (When
 * what follows is garbage instead, Node answers the parse error with 400 and closes the
 * connection before porthole's answer to the first request can be written.)
 */
const NEXT_REQUEST = 'GET /v2/ HTTP/1.1\r\nhost: porthole\r\n\r\n';

async function withNextRequest(ctx: CaseContext, exchange: SocketExchange): Promise<RawResponse | undefined> {
  const body = Buffer.concat([Buffer.from(exchange.body ?? ''), Buffer.from(NEXT_REQUEST)]);
  const [first, next] = await socketExchange(ctx.url, { ...exchange, body, responses: 2 });
  assert.equal(next?.status, 200, 'the bytes after Content-Length must be read as the next request');
  return first;
}

export const shortLengthCases: BadInputCase[] = [
  {
    title: 'a manifest PUT whose Content-Length stops mid-JSON',
    ...expect(400, 'MANIFEST_INVALID'),
    send: (ctx) =>
      withNextRequest(ctx, {
        method: 'PUT',
        path: `/v2/${ctx.fixture.name}/manifests/short`,
        headers: { 'content-type': OCI_MANIFEST, 'content-length': 40 },
        body: ctx.fixture.image.manifest.subarray(0, 40),
      }),
  },
  {
    title: 'a single-POST upload whose Content-Length covers half the blob',
    ...expect(400, 'DIGEST_INVALID'),
    send: (ctx) =>
      withNextRequest(ctx, {
        method: 'POST',
        path: `/v2/${ctx.fixture.name}/blobs/uploads/?digest=${ctx.fixture.image.layerDigest}`,
        headers: { ...octets, 'content-length': 1024 },
        body: ctx.fixture.image.layer.subarray(0, 1024),
      }),
  },
  {
    title: 'a chunk whose Content-Length is smaller than its Content-Range',
    ...expect(400, 'SIZE_INVALID'),
    send: async (ctx) =>
      withNextRequest(ctx, { ...patch(await sessionHolding(ctx, 10), '10-109', ctx.fixture.image.layer.subarray(10, 60), 50) }),
  },
];

export const methodCases: BadInputCase[] = [
  { title: 'a non-numeric n on the tags list', ...expect(400, 'UNSUPPORTED'), send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/tags/list?n=ten` }) },
  { title: 'a negative n on the catalog', ...expect(400, 'UNSUPPORTED'), send: (ctx) => raw(ctx.url, { path: '/v2/_catalog?n=-1' }) },
  {
    title: 'POST on a manifest',
    ...expect(405, 'UNSUPPORTED', { allow: 'GET, HEAD, PUT, DELETE' }),
    send: (ctx) => raw(ctx.url, { method: 'POST', path: `/v2/${ctx.fixture.name}/manifests/v1`, headers: { 'content-length': 0 } }),
  },
  {
    title: 'PUT on a blob',
    ...expect(405, 'UNSUPPORTED'),
    send: (ctx) => raw(ctx.url, { method: 'PUT', path: `/v2/${ctx.fixture.name}/blobs/${ctx.fixture.image.layerDigest}`, headers: { 'content-length': 0 } }),
  },
  { title: 'a path that is no API endpoint', ...expect(404, 'UNSUPPORTED'), send: (ctx) => raw(ctx.url, { path: `/v2/${ctx.fixture.name}/nothing-here` }) },
];
