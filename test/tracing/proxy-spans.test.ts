import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainersSandbox } from '../e2e/containers-sandbox.js';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw, type RawResponse } from '../helpers/raw-http.js';
import { socketExchange } from '../helpers/raw-socket.js';
import { startRecordingRelay, type RecordedRequest, type RecordingRelay } from '../helpers/recording-relay.js';
import { digestOf, OCI_MANIFEST } from '../helpers/registry-client.js';
import { requireTools, skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { getManifest, portholeMetrics, pushImage, type UpstreamImage } from '../proxy/proxy-fixture.js';
import { childrenOf, clientSpan, describeSpans, isServerSpan, onlyChild, onlySpan, SPAN_WAIT_MS, tracingArgs } from './trace-helpers.js';

/**
 * Spans of the pull-through cache, with a real upstream: docker-registry (CNCF distribution 2.8)
 * behind a recording relay (test/helpers/recording-relay.ts) that keeps the headers porthole
 * sends it, and can hold a blob's upstream request so that a second client certainly arrives
 * while the first one's fetch runs. The collector is test/helpers/otlp-receiver.ts, an OTLP/HTTP
 * receiver decoding what porthole's real exporter sends: Jaeger and the OpenTelemetry collector
 * have no Debian package here.
 */

const NAMESPACE = 'up.local';
const REPO = 'library/app';
const LOCAL_REPO = `${NAMESPACE}/${REPO}`;
/** Clients that ask for one uncached blob at the same moment, in the test of joining requests. */
const TOGETHER = 4;
const TEST_TIMEOUT = 60_000;

/** trace id, parent span id and flags of a W3C traceparent; undefined when absent or not one. */
function parsedTraceparent(request: RecordedRequest): { traceId: string; parentId: string; flags: string } | undefined {
  const header = request.headers.traceparent;
  const match = typeof header === 'string' ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(header) : null;
  return match ? { traceId: match[1] as string, parentId: match[2] as string, flags: match[3] as string } : undefined;
}

describe('tracing: the pull-through cache', { skip: skipUnlessTools('docker-registry'), timeout: 5 * TEST_TIMEOUT }, () => {
  let work: string;
  let receiver: OtlpReceiver;
  let upstream: DistributionProcess;
  let relay: RecordingRelay;
  let porthole: PortholeProcess;
  let sandbox: ContainersSandbox;
  /** Its config and layers are the uncached blobs of the tests, one test each (the last ones for the joining test). */
  let app: UpstreamImage;
  /** Pulled with skopeo. */
  let tool: UpstreamImage;
  let blobs: string[];

  before(async () => {
    work = await tempDir('tracing-proxy');
    [receiver, upstream, sandbox] = await Promise.all([startOtlpReceiver(), startDistribution(), ContainersSandbox.create()]);
    const target = new URL(upstream.url);
    relay = await startRecordingRelay({ host: target.hostname, port: Number(target.port) });
    // porthole asks the upstream nothing before a client does: it may start while the images go up.
    [app, tool, porthole] = await Promise.all([
      pushImage(upstream.url, REPO, 'v1', [1024, 2048, 3072, 4096, 5120, 6144]),
      pushImage(upstream.url, 'library/tool', 'v1', [4096]),
      startPorthole({
        args: tracingArgs(receiver.url, 1),
        config: ['extensions: { metrics: { enable: true } }', 'proxy:', '  upstreams:', `    - { name: ${NAMESPACE}, url: "${relay.url}", timeout: 10s }`].join('\n'),
      }),
    ]);
    blobs = [...app.blobs.keys()];
  });
  after(async () => {
    await porthole?.stop();
    await relay?.close();
    await upstream?.dispose();
    await receiver?.close();
    await sandbox?.dispose();
    await cleanup(...[work, porthole?.root].filter((dir): dir is string => dir !== undefined));
  });

  const blobPath = (digest: string) => `/v2/${LOCAL_REPO}/blobs/${digest}`;
  const upstreamRequestsFor = (path: string) => relay.requests().filter((request) => request.path === path);

  /** Requests porthole is handling now (the scrape that asks included). */
  async function inFlight(): Promise<number> {
    return (await portholeMetrics(porthole.url)).sum('porthole_http_requests_in_flight');
  }

  function assertBlob(response: RawResponse, digest: string): void {
    assert.equal(response.status, 200, response.body.toString().slice(0, 300));
    assert.equal(digestOf(response.body), digest);
  }

  // Each with names and traces of its own, so that their waits for a batch overlap.
  describe('fetches, and the trace carried upstream', { concurrency: true }, () => {
    test('a manifest pulled through the cache: proxy.fetchManifest under the request, the client trace (and tracestate) sent on upstream', { timeout: TEST_TIMEOUT }, async () => {
      const client = clientSpan();
      const response = await raw(porthole.url, { path: `/v2/${LOCAL_REPO}/manifests/v1`, headers: { traceparent: client.header, tracestate: 'porthole-test=upstream', accept: OCI_MANIFEST } });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, app.manifest);

      const inTrace = (all: readonly ReceivedSpan[]) => all.filter((span) => span.traceId === client.traceId);
      const spans = await receiver.waitForSpans((all) => inTrace(all).some(isServerSpan), SPAN_WAIT_MS);
      const server = onlySpan(inTrace(spans), isServerSpan, 'the manifest GET');
      assert.equal(server.parentSpanId, client.spanId);
      assert.equal(server.name, 'GET /v2/:name/manifests/:reference');
      const fetch = onlyChild(spans, server, 'proxy.fetchManifest');
      assert.equal(fetch.attributes['porthole.upstream'], NAMESPACE);
      assert.equal(fetch.attributes['porthole.repo'], LOCAL_REPO);
      assert.equal(fetch.attributes['porthole.reference'], 'v1');
      assert.equal(fetch.attributes['porthole.digest'], app.manifestDigest);
      assert.ok(childrenOf(spans, fetch).some((span) => span.name === 'storage.cacheManifest'), `the manifest is cached under the fetch: ${describeSpans(inTrace(spans))}`);

      const sent = upstreamRequestsFor(`/v2/${REPO}/manifests/v1`);
      assert.equal(sent.length, 1, 'one upstream GET of the manifest');
      assert.deepEqual(parsedTraceparent(sent[0] as RecordedRequest), { traceId: client.traceId, parentId: fetch.spanId, flags: '01' }, 'the upstream request is in the client trace, under the fetch');
      assert.equal(sent[0]?.headers.tracestate, 'porthole-test=upstream', 'the client tracestate goes on with it');
    });

    test('a blob pulled through the cache: proxy.fetchBlob under the request, the upstream GET in the same trace', { timeout: TEST_TIMEOUT }, async () => {
      const digest = blobs[0] as string;
      const client = clientSpan();
      assertBlob(await raw(porthole.url, { path: blobPath(digest), headers: { traceparent: client.header } }), digest);

      // The fetch ends once the blob is committed, which may be after the answer: wait for both.
      const inTrace = (all: readonly ReceivedSpan[]) => all.filter((span) => span.traceId === client.traceId);
      const spans = await receiver.waitForSpans((all) => inTrace(all).some(isServerSpan) && inTrace(all).some((span) => span.name === 'proxy.fetchBlob'), SPAN_WAIT_MS);
      const server = onlySpan(inTrace(spans), isServerSpan, 'the blob GET');
      assert.equal(server.parentSpanId, client.spanId);
      assert.equal(server.name, 'GET /v2/:name/blobs/:digest');
      const fetch = onlyChild(spans, server, 'proxy.fetchBlob');
      assert.deepEqual(
        { upstream: fetch.attributes['porthole.upstream'], repo: fetch.attributes['porthole.repo'], digest: fetch.attributes['porthole.digest'] },
        { upstream: NAMESPACE, repo: LOCAL_REPO, digest },
      );
      assert.notEqual(fetch.status.code, 2, 'the fetch succeeded');

      const sent = upstreamRequestsFor(`/v2/${REPO}/blobs/${digest}`);
      assert.equal(sent.length, 1, 'one upstream GET of the blob');
      assert.deepEqual(parsedTraceparent(sent[0] as RecordedRequest), { traceId: client.traceId, parentId: fetch.spanId, flags: '01' });
    });

    test('a client trace that is not sampled goes on upstream with its sampled flag clear, and nothing of it is exported', { timeout: TEST_TIMEOUT }, async () => {
      const digest = blobs[4] as string;
      const client = clientSpan(false);
      assertBlob(await raw(porthole.url, { path: blobPath(digest), headers: { traceparent: client.header, tracestate: 'porthole-test=unsampled' } }), digest);
      const sent = upstreamRequestsFor(`/v2/${REPO}/blobs/${digest}`);
      assert.equal(sent.length, 1);
      const upstreamContext = parsedTraceparent(sent[0] as RecordedRequest);
      assert.deepEqual({ traceId: upstreamContext?.traceId, flags: upstreamContext?.flags }, { traceId: client.traceId, flags: '00' }, 'the upstream is told the client trace, and that it is not sampled');
      assert.equal(sent[0]?.headers.tracestate, 'porthole-test=unsampled');

      // Spans are exported in the order they end: once a marker sent after the answer is in, the request's would be.
      const marker = clientSpan();
      assert.equal((await raw(porthole.url, { path: '/v2/', headers: { traceparent: marker.header } })).status, 200);
      const spans = await receiver.waitForSpans((all) => all.some((span) => span.traceId === marker.traceId), SPAN_WAIT_MS);
      assert.equal(describeSpans(spans.filter((span) => span.traceId === client.traceId)), 'none');
    });

    test('a skopeo copy through the cache: each upstream fetch under the request that started it, each upstream request in that trace', { timeout: TEST_TIMEOUT }, async (t) => {
      if (!requireTools(t, 'skopeo')) return;
      const localRepo = `${NAMESPACE}/library/tool`;
      await sandbox.skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${porthole.host}/${localRepo}:v1`, `oci:${join(work, 'tool')}:v1`]);

      const ofTool = (all: readonly ReceivedSpan[]) => all.filter((span) => span.attributes['porthole.repo'] === localRepo);
      const spans = await receiver.waitForSpans((all) => {
        const names = ofTool(all).map((span) => span.name);
        return names.filter((name) => name === 'proxy.fetchBlob').length === tool.blobs.size && names.includes('proxy.fetchManifest');
      }, SPAN_WAIT_MS);
      const servers = ofTool(spans).filter(isServerSpan);
      const fetchOf = new Map<string, ReceivedSpan>();
      for (const server of servers) {
        assert.match(String(server.attributes['user_agent.original']), /^skopeo\//);
        const fetches = childrenOf(spans, server).filter((span) => span.name === 'proxy.fetchManifest' || span.name === 'proxy.fetchBlob');
        for (const fetch of fetches) {
          assert.equal(fetch.attributes['porthole.upstream'], NAMESPACE);
          fetchOf.set(fetch.spanId, fetch);
        }
      }
      const blobGets = servers.filter((server) => server.name === 'GET /v2/:name/blobs/:digest');
      assert.deepEqual(blobGets.map((server) => server.attributes['porthole.digest']).sort(), [...tool.blobs.keys()].sort());
      for (const get of blobGets) onlyChild(spans, get, 'proxy.fetchBlob');
      assert.equal(
        [...fetchOf.values()].filter((fetch) => fetch.name === 'proxy.fetchManifest').length,
        1,
        `one manifest fetch, under a GET of the manifest: ${describeSpans(servers)}`,
      );

      const sent = relay.requests().filter((request) => request.path.startsWith('/v2/library/tool/'));
      assert.equal(sent.length, tool.blobs.size + 1, 'the manifest and each blob were asked for once');
      for (const request of sent) {
        const context = parsedTraceparent(request);
        assert.ok(context, `${request.method} ${request.path} carries a traceparent: ${JSON.stringify(request.headers)}`);
        const fetch = fetchOf.get(context.parentId);
        assert.ok(fetch, `the upstream ${request.method} ${request.path} is under one of porthole's fetches`);
        assert.equal(context.traceId, fetch.traceId);
        const digest = request.path.slice(request.path.lastIndexOf('/') + 1);
        if (fetch.name === 'proxy.fetchBlob') assert.equal(fetch.attributes['porthole.digest'], digest);
      }
      // The manifest, as skopeo got it, is the upstream's.
      assert.deepEqual((await getManifest(porthole.url, `/v2/${localRepo}/manifests/v1`)).body, tool.manifest);
    });
  });

  // One at a time, alone: they read porthole's count of requests in flight, and hold the upstream.
  describe('requests joining a running fetch', { concurrency: false }, () => {
    test('a request for a blob whose fetch is running waits in proxy.awaitFetch, which links to the fetch and is not its parent', { timeout: TEST_TIMEOUT }, async () => {
      const digest = blobs[1] as string;
      relay.hold(new RegExp(`/blobs/${digest}$`));
      const first = clientSpan();
      const second = clientSpan();
      try {
        const firstAnswer = raw(porthole.url, { path: blobPath(digest), headers: { traceparent: first.header } });
        // The upstream request is sent once the fetch is registered: from here on, others join it.
        await waitFor('the upstream GET of the blob to be held', () => relay.held() === 1, SPAN_WAIT_MS);
        const busy = await inFlight();
        const secondAnswer = raw(porthole.url, { path: blobPath(digest), headers: { traceparent: second.header } });
        await waitFor('the second request to reach porthole', async () => (await inFlight()) > busy, SPAN_WAIT_MS);
        relay.release();
        assertBlob(await firstAnswer, digest);
        assertBlob(await secondAnswer, digest);
      } finally {
        relay.release();
      }
      assert.equal(upstreamRequestsFor(`/v2/${REPO}/blobs/${digest}`).length, 1, 'both were served by one upstream GET');

      const named = (name: string, traceId: string) => (span: ReceivedSpan) => span.name === name && span.traceId === traceId;
      const spans = await receiver.waitForSpans(
        (all) => all.some(named('proxy.fetchBlob', first.traceId)) && all.some(named('proxy.awaitFetch', second.traceId)) && all.some((span) => span.traceId === second.traceId && isServerSpan(span)),
        SPAN_WAIT_MS,
      );
      const firstServer = onlySpan(spans, (span) => span.traceId === first.traceId && isServerSpan(span), 'the first request');
      const secondServer = onlySpan(spans, (span) => span.traceId === second.traceId && isServerSpan(span), 'the second request');
      const fetch = onlyChild(spans, firstServer, 'proxy.fetchBlob');
      const waited = onlyChild(spans, secondServer, 'proxy.awaitFetch');
      assert.deepEqual(
        waited.links.map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
        [{ traceId: first.traceId, spanId: fetch.spanId }],
        'the wait links to the fetch it joined',
      );
      assert.equal(waited.attributes['porthole.upstream'], NAMESPACE);
      assert.equal(waited.attributes['porthole.digest'], digest);
      assert.equal(fetch.parentSpanId, firstServer.spanId, 'the fetch stays the child of the request that started it');
      assert.equal(childrenOf(spans, waited).length, 0, 'nothing is re-parented under the wait');
      assert.ok(!spans.some(named('proxy.fetchBlob', second.traceId)), 'the second request started no fetch of its own');
    });

    test('a HEAD for a blob whose fetch is running waits for its size in proxy.awaitFetch, linked to the fetch', { timeout: TEST_TIMEOUT }, async () => {
      const digest = blobs[3] as string;
      relay.hold(new RegExp(`/blobs/${digest}$`));
      const first = clientSpan();
      const head = clientSpan();
      try {
        const firstAnswer = raw(porthole.url, { path: blobPath(digest), headers: { traceparent: first.header } });
        await waitFor('the upstream GET of the blob to be held', () => relay.held() === 1, SPAN_WAIT_MS);
        const busy = await inFlight();
        const headAnswer = raw(porthole.url, { method: 'HEAD', path: blobPath(digest), headers: { traceparent: head.header } });
        await waitFor('the HEAD to reach porthole', async () => (await inFlight()) > busy, SPAN_WAIT_MS);
        relay.release();
        assertBlob(await firstAnswer, digest);
        const answered = await headAnswer;
        assert.equal(answered.status, 200);
        assert.equal(answered.headers['docker-content-digest'], digest);
      } finally {
        relay.release();
      }
      assert.equal(upstreamRequestsFor(`/v2/${REPO}/blobs/${digest}`).length, 1, 'the HEAD was answered from the running fetch');

      const spans = await receiver.waitForSpans(
        (all) => all.some((span) => span.name === 'proxy.fetchBlob' && span.traceId === first.traceId) && all.some((span) => span.traceId === head.traceId && isServerSpan(span)),
        SPAN_WAIT_MS,
      );
      const fetch = onlySpan(spans, (span) => span.name === 'proxy.fetchBlob' && span.traceId === first.traceId, 'the fetch');
      const headServer = onlySpan(spans, (span) => span.traceId === head.traceId && isServerSpan(span), 'the HEAD');
      assert.equal(headServer.name, 'HEAD /v2/:name/blobs/:digest');
      const waits = childrenOf(spans, headServer).filter((span) => span.name === 'proxy.awaitFetch');
      assert.deepEqual(
        waits.map((wait) => wait.links.map((link) => link.spanId)),
        [[fetch.spanId]],
        `the HEAD waited on the fetch, and its trace should show it: ${describeSpans(spans.filter((span) => span.traceId === head.traceId))}`,
      );
    });

    test('requests that arrive together for an uncached blob: one fetches it, each of the others has a proxy.awaitFetch linked to that fetch', { timeout: TEST_TIMEOUT }, async () => {
      const digest = blobs[2] as string;
      const clients = Array.from({ length: TOGETHER }, () => clientSpan());
      const [first, ...others] = clients as [ReturnType<typeof clientSpan>, ...Array<ReturnType<typeof clientSpan>>];
      // Pipelined on one connection, so that porthole reads them all at once: as together as
      // requests can arrive. Clients on connections of their own meet the same, only not every time.
      const pipelined = others.map((client) => `GET ${blobPath(digest)} HTTP/1.1\r\nhost: ${porthole.host}\r\ntraceparent: ${client.header}\r\n\r\n`).join('');
      relay.hold(new RegExp(`/blobs/${digest}$`));
      try {
        const idle = await inFlight();
        const answers = socketExchange(porthole.url, { method: 'GET', path: blobPath(digest), headers: { traceparent: first.header }, body: pipelined, responses: TOGETHER });
        // All of them are in porthole, and none can be answered before the upstream's answer is released.
        await waitFor('every request to reach porthole', async () => (await inFlight()) === idle + TOGETHER, SPAN_WAIT_MS);
        await waitFor('the upstream GET to be held', () => relay.held() === 1, SPAN_WAIT_MS);
        relay.release();
        const responses = await answers;
        assert.equal(responses.length, TOGETHER);
        for (const response of responses) assertBlob(response, digest);
      } finally {
        relay.release();
      }
      assert.equal(upstreamRequestsFor(`/v2/${REPO}/blobs/${digest}`).length, 1, 'one upstream GET for all of them');

      const traceIds = clients.map((client) => client.traceId);
      const spans = await receiver.waitForSpans(
        (all) =>
          traceIds.every((traceId) => all.some((span) => span.traceId === traceId && isServerSpan(span))) &&
          all.some((span) => span.name === 'proxy.fetchBlob' && traceIds.includes(span.traceId)),
        SPAN_WAIT_MS,
      );
      const servers = traceIds.map((traceId) => onlySpan(spans, (span) => span.traceId === traceId && isServerSpan(span), `request ${traceId}`));
      const fetch = onlySpan(
        servers.flatMap((server) => childrenOf(spans, server)),
        (span) => span.name === 'proxy.fetchBlob',
        'the one fetch of the blob, under one of the requests',
      );
      const silentJoiners = servers
        .filter((server) => server.traceId !== fetch.traceId)
        .filter((server) => {
          const waits = childrenOf(spans, server).filter((span) => span.name === 'proxy.awaitFetch');
          return waits.length !== 1 || waits[0]?.links[0]?.spanId !== fetch.spanId;
        })
        .map((server) => describeSpans(spans.filter((span) => span.traceId === server.traceId)));
      assert.deepEqual(
        silentJoiners,
        [],
        "every request served by another request's fetch shows its wait (a proxy.awaitFetch linked to the proxy.fetchBlob); these joined the fetch and show nothing of it",
      );
    });
  });
});
