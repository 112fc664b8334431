import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { assertError, assertStatus, header } from '../helpers/assert-registry.js';
import { raw } from '../helpers/raw-http.js';
import { socketExchange } from '../helpers/raw-socket.js';
import { digestOf, expectStatus, OCI_MANIFEST, withQuery } from '../helpers/registry-client.js';
import type { CaseContext } from './case.js';

/**
 * Requests whose Content-Length promises more than is sent before the client closes the socket.
 * Nobody is left to read an answer, so each case proves its outcome afterwards: nothing of the
 * broken body was kept, and a session it hit still accepts the right bytes and digest (which
 * also shows the running hash was rolled back, not just the file).
 */
export interface HangUpCase {
  title: string;
  hangUp(ctx: CaseContext, session: string): Promise<void>;
  verify(ctx: CaseContext, session: string): Promise<void>;
}

const octets = { 'content-type': 'application/octet-stream' };

async function hangUp(ctx: CaseContext, method: string, path: string, headers: Record<string, string | number>, sent: Buffer): Promise<void> {
  const answers = await socketExchange(ctx.url, { method, path, headers, body: sent, mode: 'hang-up', pauseMs: 30 });
  assert.deepEqual(answers, []);
}

/** The rest of the fixture layer as one chunk, then a closing PUT without body: must be 202, then 201. */
async function finishLayer(ctx: CaseContext, session: string): Promise<void> {
  const rest = ctx.fixture.image.layer.subarray(1024);
  const chunk = await raw(ctx.url, { method: 'PATCH', path: session, headers: { ...octets, 'content-range': '1024-2047', 'content-length': rest.length }, body: rest });
  assertStatus(chunk, 202);
  assert.equal(header(chunk, 'range'), '0-2047');
  const closed = await raw(ctx.url, { method: 'PUT', path: withQuery(session, `digest=${ctx.fixture.image.layerDigest}`), headers: { 'content-length': 0 } });
  assertStatus(closed, 201);
}

async function assertLayerIntact(ctx: CaseContext): Promise<void> {
  const blob = await raw(ctx.url, { path: `/v2/${ctx.fixture.name}/blobs/${ctx.fixture.image.layerDigest}` });
  assertStatus(blob, 200);
  assert.ok(blob.body.equals(ctx.fixture.image.layer));
}

/** Every case gets a session that already holds the first 1024 bytes of the fixture layer. */
export async function halfLayerSession(ctx: CaseContext): Promise<string> {
  const session = await ctx.openSession();
  const half = ctx.fixture.image.layer.subarray(0, 1024);
  const headers = { ...octets, 'content-range': '0-1023', 'content-length': 1024 };
  expectStatus(await raw(ctx.url, { method: 'PATCH', path: session, headers, body: half }), 202, 'first half');
  return session;
}

export const hangUpCases: HangUpCase[] = [
  {
    title: 'a PATCH that promises 1024 bytes, sends 100 and hangs up',
    hangUp: (ctx, session) =>
      hangUp(ctx, 'PATCH', session, { ...octets, 'content-range': '1024-2047', 'content-length': 1024 }, ctx.fixture.image.layer.subarray(1024, 1124)),
    verify: finishLayer,
  },
  {
    title: 'a closing PUT whose final chunk promises 1024 bytes, sends 10 and hangs up',
    hangUp: (ctx, session) =>
      hangUp(
        ctx,
        'PUT',
        withQuery(session, `digest=${ctx.fixture.image.layerDigest}`),
        { ...octets, 'content-range': '1024-2047', 'content-length': 1024 },
        ctx.fixture.image.layer.subarray(1024, 1034),
      ),
    verify: finishLayer,
  },
  {
    title: 'a streamed PATCH without Content-Length whose chunked body never ends',
    hangUp: (ctx, session) =>
      hangUp(ctx, 'PATCH', session, { ...octets, 'transfer-encoding': 'chunked' }, Buffer.from(`64\r\n${'x'.repeat(100)}\r\n`)),
    verify: finishLayer,
  },
  {
    title: 'a single-POST upload that promises 2048 bytes, sends 1000 and hangs up',
    hangUp: (ctx) =>
      hangUp(
        ctx,
        'POST',
        `/v2/${ctx.fixture.name}/blobs/uploads/?digest=${ctx.fixture.image.layerDigest}`,
        { ...octets, 'content-length': 2048 },
        ctx.fixture.image.layer.subarray(0, 1000),
      ),
    verify: assertLayerIntact,
  },
  {
    title: 'a manifest PUT that promises the whole manifest, sends half and hangs up',
    hangUp: (ctx) => {
      const manifest = ctx.fixture.image.manifest;
      return hangUp(
        ctx,
        'PUT',
        `/v2/${ctx.fixture.name}/manifests/hung-up`,
        { 'content-type': OCI_MANIFEST, 'content-length': manifest.length },
        manifest.subarray(0, manifest.length >> 1),
      );
    },
    verify: async (ctx) => assertError(await raw(ctx.url, { path: `/v2/${ctx.fixture.name}/manifests/hung-up` }), 404, 'MANIFEST_UNKNOWN'),
  },
];

/**
 * Closes a session right after a client hung up mid-chunk, with the digest of the bytes that
 * were acknowledged, and checks the blob is exactly those bytes. The broken chunk's bytes surely
 * reached the disk first (pauseMs), so a cut-back that did not happen would be committed as part
 * of the blob, under a digest it does not match.
 */
export async function assertCloseAfterHangUp(ctx: CaseContext): Promise<void> {
  const acknowledged = randomBytes(1024);
  const session = await ctx.openSession();
  const first = await raw(ctx.url, { method: 'PATCH', path: session, headers: { ...octets, 'content-range': '0-1023', 'content-length': 1024 }, body: acknowledged });
  assertStatus(first, 202);
  await hangUp(ctx, 'PATCH', session, { ...octets, 'content-range': '1024-2047', 'content-length': 1024 }, randomBytes(100));
  const digest = digestOf(acknowledged);
  assertStatus(await raw(ctx.url, { method: 'PUT', path: withQuery(session, `digest=${digest}`), headers: { 'content-length': 0 } }), 201);
  const blob = await raw(ctx.url, { path: `/v2/${ctx.fixture.name}/blobs/${digest}` });
  assertStatus(blob, 200);
  assert.equal(blob.body.length, 1024);
  assert.ok(blob.body.equals(acknowledged));
}
