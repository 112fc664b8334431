import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { startFaultRelay, type BodyCut, type FaultRelay } from '../helpers/fault-relay.js';
import { logLines } from '../helpers/log-lines.js';
import { cleanup, startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { blobDataFiles } from '../helpers/storage-tree.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { portholeMetrics, pushImage, uploadSessionsWithData } from './proxy-fixture.js';

/** Cut well before porthole's first write batch (1 MiB): no byte of the blob can have reached a client yet. */
const CUT_AFTER = 64 * 1024;
const BLOB_SIZE = 4 * 1024 * 1024;

/**
 * An upstream that fails early in a blob's body, after it answered 200 with the blob's length:
 * it stalls past the timeout, resets the connection or closes it. The client has had no byte
 * yet, so it gets what docs/proxy.md promises, 503 UNAVAILABLE with the upstream's reason, and
 * porthole logs the upstream's failure as a warning, not as an unexpected error of its own.
 */
describe('pull-through cache: an upstream that fails early in a blob body', { skip: skipUnlessTools('docker-registry') }, () => {
  let upstream: DistributionProcess;
  const relays = new Map<BodyCut['then'], FaultRelay>();
  let porthole: PortholeProcess;
  let digest: string;

  before(async () => {
    upstream = await startDistribution();
    const image = await pushImage(upstream.url, 'library/big', 'v1', [BLOB_SIZE]);
    digest = [...image.blobs].find(([, blob]) => blob.length === BLOB_SIZE)?.[0] as string;
    const target = { host: '127.0.0.1', port: Number(new URL(upstream.url).port) };
    for (const then of ['stall', 'reset', 'close'] as const) {
      const relay = await startFaultRelay(target);
      relay.cutBodies({ path: /\/blobs\//, afterBodyBytes: CUT_AFTER, then });
      relays.set(then, relay);
    }
    porthole = await startPorthole({
      config: [
        'extensions: { metrics: { enable: true } }',
        'proxy:',
        '  upstreams:',
        `    - { name: stall.local, url: "${relays.get('stall')?.url}", timeout: 2s }`,
        `    - { name: reset.local, url: "${relays.get('reset')?.url}", timeout: 10s }`,
        `    - { name: close.local, url: "${relays.get('close')?.url}", timeout: 10s }`,
      ].join('\n'),
    });
  });
  after(async () => {
    await porthole?.stop();
    for (const relay of relays.values()) await relay.close();
    await upstream?.dispose();
    if (porthole) await cleanup(porthole.root);
  });

  const cases: Array<{ then: BodyCut['then']; outcome: string; reason: RegExp }> = [
    { then: 'stall', outcome: 'timeout', reason: /no answer in time \(UND_ERR_BODY_TIMEOUT\)/ },
    { then: 'reset', outcome: 'broken', reason: /ECONNRESET|other side closed/ },
    { then: 'close', outcome: 'broken', reason: /other side closed/ },
  ];
  for (const { then, outcome, reason } of cases) {
    it(`answers 503 UNAVAILABLE, logged at warn with the reason, when the upstream's body ${then === 'stall' ? 'stalls past the timeout' : then === 'reset' ? 'is reset' : 'is closed'} before the first write batch`, async () => {
      const namespace = `${then}.local`;
      const answer = await raw(porthole.url, { path: `/v2/${namespace}/library/big/blobs/${digest}`, timeoutMs: 30_000 });
      assert.equal(answer.status, 503, answer.body.toString());
      assert.deepEqual(errorCodes(answer), ['UNAVAILABLE']);
      const message = (answer.json() as { errors: Array<{ message: string }> }).errors[0]?.message ?? '';
      assert.match(message, reason);
      assert.deepEqual(relays.get(then)?.requests(), [{ method: 'GET', path: `/v2/library/big/blobs/${digest}` }], 'one upstream request, cut as planned');

      const failureLine = () =>
        logLines(porthole.output()).find((line) => line.msg === 'blob download from upstream failed; nothing was cached' && line.repo === `${namespace}/library/big`);
      await waitFor('the failed download to be logged', () => failureLine() !== undefined, 10_000);
      const line = failureLine();
      assert.equal(line?.level, 'warn');
      assert.equal(line?.digest, digest);
      assert.match(String(line?.reason), reason);
      assert.deepEqual(
        logLines(porthole.output()).filter((entry) => entry.level === 'error' || entry.level === 'fatal'),
        [],
        'nothing logged as an error of porthole',
      );

      await waitFor('the failed download to be cleaned up', async () => !(await uploadSessionsWithData(porthole.root)), 10_000);
      assert.ok(!(await blobDataFiles(porthole.root)).some((blob) => `sha256:${blob.hex}` === digest), 'nothing cached');
      const metrics = await portholeMetrics(porthole.url);
      assert.equal(metrics.value('porthole_proxy_upstream_requests_total', { namespace, outcome }), 1);
      // The upstream answered: a body that breaks off does not make it unavailable.
      assert.equal(metrics.value('porthole_proxy_upstream_up', { namespace }), 1);
      assert.deepEqual(metrics.find('porthole_proxy_upstream_circuit_transitions_total', { namespace }), []);
    });
  }
});
