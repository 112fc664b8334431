import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { buildOciLayout, type LayoutDescription } from '../fixtures/oci-layout.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { makeImage, OCI_MANIFEST, type Image } from '../helpers/registry-client.js';
import { requireTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import {
  accessLineOf,
  clientSpan,
  descendsFrom,
  describeSpans,
  isServerSpan,
  onlyChild,
  onlySpan,
  SPAN_KIND,
  SPAN_WAIT_MS,
  STATUS_ERROR,
  stringAttribute,
  tracingArgs,
} from './trace-helpers.js';

/**
 * porthole's spans, seen from outside: real porthole processes with tracing on export to an
 * OTLP/HTTP receiver (test/helpers/otlp-receiver.ts) that stands in for Jaeger or the
 * OpenTelemetry collector, which have no Debian package here; it decodes the OTLP/protobuf that
 * porthole's real exporter sends. skopeo pushes and pulls; raw requests carry hand-written
 * `traceparent` headers.
 *
 * Two portholes share the receiver: one samples every new trace (--sampling-prob 1), the other
 * none (--sampling-prob 0, and a service.name of its own from OTEL_SERVICE_NAME), so that
 * parent-based sampling can be seen in both directions. Each test uses names, user agents and
 * trace ids of its own, so the tests run concurrently and their waits for a batch overlap.
 *
 * Absence ("nothing was exported for that request") is shown without a timed wait: porthole's
 * batch processor exports spans in the order they ended, so once a marker request sent after
 * the request in question has arrived at the receiver, any span of that request would have too.
 */

const UNSAMPLED_SERVICE = 'porthole-at-zero';
const TEST_TIMEOUT = 60_000;

/** W3C trace context headers that are not valid, each of which must be ignored. */
const MALFORMED_TRACEPARENTS: Record<string, (traceId: string, spanId: string) => string> = {
  'not trace context at all': () => 'garbage',
  'an all-zero trace id': (_traceId, spanId) => `00-${'0'.repeat(32)}-${spanId}-01`,
  'version ff': (traceId, spanId) => `ff-${traceId}-${spanId}-01`,
  'no flags': (traceId, spanId) => `00-${traceId}-${spanId}`,
  'upper-case hex': (traceId, spanId) => `00-${traceId.toUpperCase()}-${spanId.toUpperCase()}-01`,
};

interface AuditEntry {
  action: string;
  uploadId?: string;
  traceId?: string;
  spanId?: string;
}

/** The audit file's complete lines so far (a line being written is left for the next read). */
async function auditEntries(file: string): Promise<AuditEntry[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{') && line.endsWith('}'))
    .map((line) => JSON.parse(line) as AuditEntry);
}

async function auditEntryOf(file: string, uploadId: string): Promise<AuditEntry> {
  const matches = (entry: AuditEntry): boolean => entry.uploadId === uploadId && entry.action === 'blob.upload.start';
  await waitFor(`the audit line of upload ${uploadId}`, async () => (await auditEntries(file)).some(matches), SPAN_WAIT_MS);
  return onlyOne((await auditEntries(file)).filter(matches), `audit line of upload ${uploadId}`);
}

function onlyOne<T>(items: T[], what: string): T {
  assert.equal(items.length, 1, `exactly one ${what}: ${JSON.stringify(items)}`);
  return items[0] as T;
}

/** POST /v2/<repo>/blobs/uploads/: an audited write whose upload id names it in both logs. */
async function startUploadAs(porthole: PortholeProcess, repo: string, headers: Record<string, string>): Promise<string> {
  const response = await raw(porthole.url, { method: 'POST', path: `/v2/${repo}/blobs/uploads/`, headers: { 'content-length': 0, ...headers } });
  assert.equal(response.status, 202, response.body.toString());
  const uploadId = response.headers['docker-upload-uuid'];
  assert.equal(typeof uploadId, 'string');
  return uploadId as string;
}

describe('tracing: spans of a push, a pull and raw requests', { concurrency: true, timeout: 4 * TEST_TIMEOUT }, () => {
  let work: string;
  let receiver: OtlpReceiver;
  /** Samples every new trace. */
  let sampling: PortholeProcess;
  /** Samples no new trace; follows a sampled traceparent. */
  let notSampling: PortholeProcess;
  let sandbox: ContainersSandbox;
  let layout: LayoutDescription;
  /** A small image pushed by hand, for tests that need content but not skopeo. */
  let hosted: Image;
  let push: Promise<unknown> | undefined;

  const auditOf = (which: 'sampling' | 'not-sampling') => join(work, `${which}-audit.log`);
  const auditConfig = (which: 'sampling' | 'not-sampling') => `log: { audit: ${JSON.stringify(auditOf(which))} }`;
  /** Spans sent by each porthole, told apart by their resource's service.name. */
  const fromSampling = (span: ReceivedSpan) => span.resource['service.name'] === 'porthole';
  const fromNotSampling = (span: ReceivedSpan) => span.resource['service.name'] === UNSAMPLED_SERVICE;

  before(async () => {
    work = await tempDir('tracing-spans');
    receiver = await startOtlpReceiver();
    [sampling, notSampling] = await Promise.all([
      startPorthole({ args: tracingArgs(receiver.url, 1), config: auditConfig('sampling') }),
      startPorthole({ args: tracingArgs(receiver.url, 0), config: auditConfig('not-sampling'), env: { OTEL_SERVICE_NAME: UNSAMPLED_SERVICE } }),
    ]);
    sandbox = await ContainersSandbox.create();
    layout = await buildOciLayout({ dir: join(work, 'layout'), tag: 'v1', seed: 'tracing-spans', layers: 2, filesPerLayer: 1, fileBytes: 8 * 1024 });
    hosted = await makeImage(sampling.url, 'spans/hosted', { tag: 'v1' });
  });
  after(async () => {
    await Promise.all([sampling?.stop(), notSampling?.stop()]);
    await receiver?.close();
    await sandbox?.dispose();
    await cleanup(...[work, sampling?.root, notSampling?.root].filter((dir): dir is string => dir !== undefined));
  });

  /** The skopeo push of the layout to spans/pushed:v1, once, for the push and the pull tests. */
  const pushed = (): Promise<unknown> => {
    push ??= sandbox.skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout.dir}:v1`, `docker://${sampling.host}/spans/pushed:v1`]);
    return push;
  };

  /** Checks what every server span carries, whatever its request. */
  function assertServerSpan(span: ReceivedSpan, expected: { method: string; route: string; status: number; action: string }): void {
    assert.equal(span.name, `${expected.method} ${expected.route}`);
    assert.equal(span.kind, SPAN_KIND.server, `${span.name} is a server span`);
    assert.equal(span.parentSpanId, undefined, `${span.name} has no parent: the client sent no traceparent`);
    assert.notEqual(span.status.code, STATUS_ERROR, `${span.name} (${expected.status}) is no error`);
    const attributes = span.attributes;
    assert.equal(attributes['http.request.method'], expected.method);
    assert.equal(attributes['http.route'], expected.route);
    assert.equal(attributes['http.response.status_code'], expected.status);
    assert.equal(attributes['porthole.action'], expected.action);
    assert.equal(attributes['porthole.repo'], 'spans/pushed');
    assert.equal(attributes['client.address'], '127.0.0.1');
    assert.match(stringAttribute(span, 'user_agent.original'), /^skopeo\//);
    const path = stringAttribute(span, 'url.path');
    assert.ok(path.startsWith('/v2/spans/pushed/') && !path.includes('?'), `url.path ${path} is the path alone, without the query`);
    assert.equal(typeof attributes['http.request.body.size'], 'number');
    assert.equal(typeof attributes['http.response.body.size'], 'number');
    assert.equal(span.resource['service.name'], 'porthole', 'service.name is porthole by default');
  }

  test('a skopeo push: a server span per request, with the storage work under the request that did it', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    await pushed();
    // The manifest goes last; every span of the blobs ended, and so was queued, before it.
    const spans = await receiver.waitForSpans(
      (all) => all.some((span) => isServerSpan(span) && span.name === 'PUT /v2/:name/manifests/:reference' && span.attributes['porthole.repo'] === 'spans/pushed'),
      SPAN_WAIT_MS,
    );
    const servers = spans.filter((span) => isServerSpan(span) && span.attributes['porthole.repo'] === 'spans/pushed' && span.attributes['http.request.method'] !== 'GET');
    const named = (name: string) => servers.filter((span) => span.name === name);
    const blobs = layout.blobDigests.filter((digest) => digest !== layout.root.digest);

    const starts = named('POST /v2/:name/blobs/uploads/');
    assert.equal(starts.length, blobs.length, `one upload started per blob: ${describeSpans(servers)}`);
    const uploadIds = new Set<string>();
    for (const start of starts) {
      assertServerSpan(start, { method: 'POST', route: '/v2/:name/blobs/uploads/', status: 202, action: 'push' });
      uploadIds.add(stringAttribute(start, 'porthole.upload_id'));
      assert.equal(onlyChild(spans, start, 'storage.startUpload').kind, SPAN_KIND.internal);
    }

    const chunks = named('PATCH /v2/:name/blobs/uploads/:id');
    assert.equal(chunks.length, blobs.length, 'skopeo sends each blob in one PATCH');
    for (const chunk of chunks) {
      assertServerSpan(chunk, { method: 'PATCH', route: '/v2/:name/blobs/uploads/:id', status: 202, action: 'push' });
      assert.ok(uploadIds.has(stringAttribute(chunk, 'porthole.upload_id')), 'the PATCH names a session that a POST started');
      assert.ok((chunk.attributes['http.request.body.size'] as number) > 0, 'the PATCH carried the blob');
      const append = onlyChild(spans, chunk, 'storage.appendUpload');
      assert.equal(append.attributes['porthole.upload_id'], chunk.attributes['porthole.upload_id']);
    }

    const commits = named('PUT /v2/:name/blobs/uploads/:id');
    assert.deepEqual(commits.map((commit) => commit.attributes['porthole.digest']).sort(), [...blobs].sort(), 'one closing PUT per blob');
    for (const commit of commits) {
      assertServerSpan(commit, { method: 'PUT', route: '/v2/:name/blobs/uploads/:id', status: 201, action: 'push' });
      const stored = onlyChild(spans, commit, 'storage.commitUpload');
      assert.equal(stored.traceId, commit.traceId);
      assert.equal(stored.attributes['porthole.digest'], commit.attributes['porthole.digest']);
      assert.equal(stored.attributes['porthole.upload_id'], commit.attributes['porthole.upload_id']);
      assert.equal(stored.attributes['porthole.repo'], 'spans/pushed');
    }

    const manifest = onlySpan(servers, (span) => span.name === 'PUT /v2/:name/manifests/:reference', 'the manifest PUT');
    assertServerSpan(manifest, { method: 'PUT', route: '/v2/:name/manifests/:reference', status: 201, action: 'push' });
    assert.equal(manifest.attributes['porthole.reference'], 'v1');
    assert.equal(manifest.attributes['porthole.digest'], layout.root.digest);
    assert.equal(manifest.attributes['http.request.body.size'], layout.root.size);
    const putManifest = onlyChild(spans, manifest, 'storage.putManifest');
    assert.equal(putManifest.attributes['porthole.reference'], 'v1');
    // Validation is part of storing: a child of storage.putManifest, in the request's trace.
    const validation = onlySpan(spans, (span) => span.name === 'manifest.validate' && span.traceId === manifest.traceId, 'manifest.validate of the PUT');
    assert.ok(descendsFrom(spans, validation, manifest), `manifest.validate is under the manifest PUT: ${describeSpans(spans.filter((s) => s.traceId === manifest.traceId))}`);
    assert.equal(validation.attributes['porthole.manifest_bytes'], layout.root.size);

    // Each request is a trace of its own: no server span is another's child.
    assert.equal(new Set(servers.map((span) => span.traceId)).size, servers.length);
  });

  test('a skopeo pull: GET manifest and GET blob server spans, each reading storage under it', { timeout: TEST_TIMEOUT }, async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    await pushed();
    await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${sampling.host}/spans/pushed:v1`, `oci:${join(work, 'pulled')}:v1`]);
    const image = layout.images[0];
    assert.ok(image);
    const pulledBlobs = [image.config, ...image.layers];
    const blobGets = (all: readonly ReceivedSpan[]) =>
      all.filter((span) => isServerSpan(span) && span.name === 'GET /v2/:name/blobs/:digest' && span.attributes['porthole.repo'] === 'spans/pushed');
    const spans = await receiver.waitForSpans((all) => blobGets(all).length >= pulledBlobs.length, SPAN_WAIT_MS);

    const manifest = onlySpan(
      spans,
      (span) => isServerSpan(span) && span.name === 'GET /v2/:name/manifests/:reference' && span.attributes['porthole.repo'] === 'spans/pushed',
      'the manifest GET of the pull',
    );
    assertServerSpan(manifest, { method: 'GET', route: '/v2/:name/manifests/:reference', status: 200, action: 'pull' });
    assert.equal(manifest.attributes['porthole.reference'], 'v1');
    assert.equal(manifest.attributes['porthole.digest'], layout.root.digest);
    assert.equal(manifest.attributes['http.response.body.size'], layout.root.size);
    assert.equal(onlyChild(spans, manifest, 'storage.getManifest').attributes['porthole.reference'], 'v1');

    const gets = blobGets(spans);
    assert.deepEqual(gets.map((span) => span.attributes['porthole.digest']).sort(), pulledBlobs.map((blob) => blob.digest).sort(), 'one GET per blob of the image');
    for (const get of gets) {
      assertServerSpan(get, { method: 'GET', route: '/v2/:name/blobs/:digest', status: 200, action: 'pull' });
      const blob = pulledBlobs.find((candidate) => candidate.digest === get.attributes['porthole.digest']);
      assert.equal(get.attributes['http.response.body.size'], blob?.size);
      assert.equal(get.attributes['http.request.body.size'], 0);
      assert.equal(onlyChild(spans, get, 'storage.getBlob').attributes['porthole.digest'], blob?.digest);
    }
  });

  test('a 404 carries its OCI error code, and is no error of porthole', { timeout: TEST_TIMEOUT }, async () => {
    const client = clientSpan();
    const response = await raw(sampling.url, { path: '/v2/spans/hosted/manifests/no-such-tag', headers: { traceparent: client.header, accept: OCI_MANIFEST } });
    assert.equal(response.status, 404);
    assert.deepEqual(errorCodes(response), ['MANIFEST_UNKNOWN']);
    const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === client.traceId && isServerSpan(span)), SPAN_WAIT_MS);
    const server = onlySpan(spans, (span) => span.traceId === client.traceId && isServerSpan(span), 'the 404');
    assert.equal(server.name, 'GET /v2/:name/manifests/:reference');
    assert.equal(server.attributes['http.response.status_code'], 404);
    assert.equal(server.attributes['porthole.error_code'], 'MANIFEST_UNKNOWN');
    assert.equal(server.attributes['porthole.reference'], 'no-such-tag');
    assert.notEqual(server.status.code, STATUS_ERROR, 'a client error leaves the status unset (or ok), never error');
    assert.notEqual(onlyChild(spans, server, 'storage.getManifest').status.code, STATUS_ERROR, 'a manifest not found is no storage failure');
  });

  test('an incoming traceparent is continued: same trace, the client span as parent, tracestate kept', { timeout: TEST_TIMEOUT }, async () => {
    const client = clientSpan();
    const response = await raw(sampling.url, {
      path: `/v2/spans/hosted/manifests/${hosted.manifestDigest}`,
      headers: { traceparent: client.header, tracestate: 'porthole-test=continued', accept: OCI_MANIFEST },
    });
    assert.equal(response.status, 200);
    const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === client.traceId && isServerSpan(span)), SPAN_WAIT_MS);
    const server = onlySpan(spans, (span) => span.traceId === client.traceId && isServerSpan(span), 'the continued request');
    assert.equal(server.parentSpanId, client.spanId, 'the client span is the server span parent');
    assert.equal(server.traceState, 'porthole-test=continued');
    assert.equal(server.attributes['porthole.digest'], hosted.manifestDigest);
    const read = onlyChild(spans, server, 'storage.getManifest');
    assert.equal(read.traceId, client.traceId, 'the storage work is in the client trace too');
  });

  test('a request refused before routing (a malformed percent-encoding) still has its server span, in the client trace', { timeout: TEST_TIMEOUT }, async () => {
    const client = clientSpan();
    const userAgent = 'tracing-test/refused-before-routing';
    const response = await raw(sampling.url, { path: '/v2/bad%zzname/manifests/v1', headers: { traceparent: client.header, 'user-agent': userAgent } });
    assert.equal(response.status, 400);
    assert.deepEqual(errorCodes(response), ['NAME_INVALID']);
    // The access log has it (so porthole saw the request); the trace must too.
    const line = await accessLineOf(sampling, (entry) => entry.userAgent === userAgent, 'the refused request');
    assert.equal(line.status, 400);
    // Sent after it: once the marker is in, the refused request's span would be too.
    const marker = clientSpan();
    assert.equal((await raw(sampling.url, { path: '/v2/', headers: { traceparent: marker.header } })).status, 200);
    const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === marker.traceId), SPAN_WAIT_MS);
    const inTrace = spans.filter((span) => span.traceId === client.traceId);
    assert.equal(inTrace.length, 1, `one server span for the refused request, in the client trace: ${describeSpans(inTrace)}`);
    const server = inTrace[0] as ReceivedSpan;
    assert.equal(server.kind, SPAN_KIND.server);
    assert.equal(server.parentSpanId, client.spanId);
    assert.equal(server.attributes['http.response.status_code'], 400);
    assert.equal(server.attributes['porthole.error_code'], 'NAME_INVALID');
    assert.equal(line.traceId, client.traceId, 'and its access line names the trace');
  });

  for (const [what, header] of Object.entries(MALFORMED_TRACEPARENTS)) {
    test(`a malformed traceparent (${what}) is ignored: the request is answered and starts a trace of its own`, { timeout: TEST_TIMEOUT }, async () => {
      const client = clientSpan();
      const userAgent = `tracing-test/malformed-${what.replaceAll(' ', '-')}`;
      const response = await raw(sampling.url, { path: '/v2/', headers: { traceparent: header(client.traceId, client.spanId), 'user-agent': userAgent } });
      assert.equal(response.status, 200);
      const byAgent = (span: ReceivedSpan) => isServerSpan(span) && span.attributes['user_agent.original'] === userAgent;
      const spans = await receiver.waitForSpans((all) => all.some(byAgent), SPAN_WAIT_MS);
      const server = onlySpan(spans, byAgent, `the request with ${what}`);
      assert.equal(server.parentSpanId, undefined, 'no parent: the header was not trace context');
      assert.notEqual(server.traceId, client.traceId.toLowerCase());
      assert.match(server.traceId, /^(?!0{32})[0-9a-f]{32}$/);
    });
  }

  test('a traceparent whose sampled flag is 00 is followed: nothing of its request is exported, even at probability 1', { timeout: TEST_TIMEOUT }, async () => {
    const unsampledClient = clientSpan(false);
    const userAgent = 'tracing-test/unsampled-parent';
    const response = await raw(sampling.url, {
      path: `/v2/spans/hosted/manifests/${hosted.manifestDigest}`,
      headers: { traceparent: unsampledClient.header, 'user-agent': userAgent, accept: OCI_MANIFEST },
    });
    assert.equal(response.status, 200);
    // Sent once the answer above is in: its spans (had they been sampled) ended first.
    const marker = clientSpan();
    assert.equal((await raw(sampling.url, { path: '/v2/', headers: { traceparent: marker.header } })).status, 200);
    const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === marker.traceId), SPAN_WAIT_MS);
    assert.deepEqual(describeSpans(spans.filter((span) => span.traceId === unsampledClient.traceId)), 'none');
    const line = await accessLineOf(sampling, (entry) => entry.userAgent === userAgent, 'the unsampled request');
    assert.equal(line.traceId, undefined, 'an unsampled request has no trace id in its access line');
  });

  test('at probability 0 a sampled traceparent is followed: exported, named by OTEL_SERVICE_NAME, its ids in both logs', { timeout: TEST_TIMEOUT }, async () => {
    const client = clientSpan();
    const userAgent = 'tracing-test/sampled-parent-at-zero';
    const uploadId = await startUploadAs(notSampling, 'spans/at-zero', { traceparent: client.header, 'user-agent': userAgent });
    const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === client.traceId && isServerSpan(span)), SPAN_WAIT_MS);
    const server = onlySpan(spans, (span) => span.traceId === client.traceId && isServerSpan(span), 'the request with a sampled parent');
    assert.equal(server.parentSpanId, client.spanId);
    assert.equal(server.name, 'POST /v2/:name/blobs/uploads/');
    assert.equal(server.attributes['porthole.upload_id'], uploadId);
    assert.equal(server.resource['service.name'], UNSAMPLED_SERVICE, 'OTEL_SERVICE_NAME names the service');
    assert.ok(fromNotSampling(server));
    assert.equal(onlyChild(spans, server, 'storage.startUpload').traceId, client.traceId);

    const line = await accessLineOf(notSampling, (entry) => entry.userAgent === userAgent, 'the request with a sampled parent');
    assert.deepEqual({ traceId: line.traceId, spanId: line.spanId }, { traceId: client.traceId, spanId: server.spanId });
    const audit = await auditEntryOf(auditOf('not-sampling'), uploadId);
    assert.deepEqual({ traceId: audit.traceId, spanId: audit.spanId }, { traceId: client.traceId, spanId: server.spanId });
  });

  test('a sampled request has the trace and span id of its server span in its access and audit lines', { timeout: TEST_TIMEOUT }, async () => {
    const userAgent = 'tracing-test/logged-sampled';
    const uploadId = await startUploadAs(sampling, 'spans/logged', { 'user-agent': userAgent });
    const ofUpload = (span: ReceivedSpan) => isServerSpan(span) && span.attributes['porthole.upload_id'] === uploadId;
    const spans = await receiver.waitForSpans((all) => all.some(ofUpload), SPAN_WAIT_MS);
    const server = onlySpan(spans, ofUpload, 'the logged upload start');
    assert.ok(fromSampling(server));

    const line = await accessLineOf(sampling, (entry) => entry.userAgent === userAgent, 'the sampled upload start');
    assert.deepEqual({ traceId: line.traceId, spanId: line.spanId }, { traceId: server.traceId, spanId: server.spanId });
    const audit = await auditEntryOf(auditOf('sampling'), uploadId);
    assert.deepEqual({ traceId: audit.traceId, spanId: audit.spanId }, { traceId: server.traceId, spanId: server.spanId });
  });

  test('at probability 0 without a traceparent nothing is exported and neither log line has trace ids', { timeout: TEST_TIMEOUT }, async () => {
    const userAgent = 'tracing-test/logged-unsampled';
    const uploadId = await startUploadAs(notSampling, 'spans/unlogged', { 'user-agent': userAgent });
    const line = await accessLineOf(notSampling, (entry) => entry.userAgent === userAgent, 'the unsampled upload start');
    assert.equal(line.uploadId, uploadId);
    assert.ok(!('traceId' in line) && !('spanId' in line), `no trace ids in the access line: ${JSON.stringify(line)}`);
    const audit = await auditEntryOf(auditOf('not-sampling'), uploadId);
    assert.ok(!('traceId' in audit) && !('spanId' in audit), `no trace ids in the audit line: ${JSON.stringify(audit)}`);

    // A sampled marker after it, from the same porthole: once it is in, the upload start would be too.
    const marker = clientSpan();
    assert.equal((await raw(notSampling.url, { path: '/v2/', headers: { traceparent: marker.header } })).status, 200);
    const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === marker.traceId), SPAN_WAIT_MS);
    const leaked = spans.filter((span) => span.attributes['porthole.upload_id'] === uploadId || span.attributes['porthole.repo'] === 'spans/unlogged');
    assert.deepEqual(describeSpans(leaked), 'none', 'nothing of the unsampled request was exported');
  });
});
