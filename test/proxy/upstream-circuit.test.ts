import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDistribution, type DistributionProcess } from '../helpers/distribution-process.js';
import { startFaultRelay, type FaultRelay } from '../helpers/fault-relay.js';
import { logLines } from '../helpers/log-lines.js';
import { cleanup, startPorthole, type PortholeProcess } from '../helpers/porthole-process.js';
import { errorCodes, raw } from '../helpers/raw-http.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait-for.js';
import { getManifest, portholeMetrics, pushImage } from './proxy-fixture.js';

const NAMESPACES = ['hang.local', 'latest.local', 'flaky.local', 'moving.local'] as const;
type Namespace = (typeof NAMESPACES)[number];

/**
 * An upstream that hangs or refuses, behind a relay that counts what reaches it: once porthole
 * has found it unreachable, it stops asking (the upstream's circuit is open), answers cached
 * content at once and uncached content with 503 at once, tries one probe request when the
 * interval has passed, and closes the circuit when the upstream answers again. Stale tags are
 * served at once and checked upstream in the background. Assertions count upstream requests at
 * the relay and state changes in the metrics; none depends on how long anything took.
 */
describe('pull-through cache: an upstream that hangs, and its circuit', { skip: skipUnlessTools('docker-registry') }, () => {
  let upstream: DistributionProcess;
  const relays = new Map<Namespace, FaultRelay>();
  let porthole: PortholeProcess;

  const relay = (namespace: Namespace): FaultRelay => relays.get(namespace) as FaultRelay;
  const digestAt = async (namespace: Namespace, repo: string, tag: string): Promise<string | undefined> => {
    const answer = await getManifest(porthole.url, `/v2/${namespace}/${repo}/manifests/${tag}`);
    assert.equal(answer.status, 200, answer.body.toString());
    return answer.headers['docker-content-digest'] as string | undefined;
  };
  const transitions = async (namespace: Namespace) => {
    const metrics = await portholeMetrics(porthole.url);
    const count = (to: string) => metrics.value('porthole_proxy_upstream_circuit_transitions_total', { namespace, to }) ?? 0;
    return { open: count('open'), half_open: count('half_open'), closed: count('closed'), up: metrics.value('porthole_proxy_upstream_up', { namespace }) };
  };
  const logged = (namespace: Namespace, msg: string) => logLines(porthole.output()).filter((line) => line.msg === msg && line.upstream === namespace);

  before(async () => {
    upstream = await startDistribution();
    const target = { host: '127.0.0.1', port: Number(new URL(upstream.url).port) };
    for (const namespace of NAMESPACES) relays.set(namespace, await startFaultRelay(target));
    porthole = await startPorthole({
      config: [
        'extensions: { metrics: { enable: true } }',
        'proxy:',
        '  upstreams:',
        // Open for an hour once opened: no probe can go during the test, so every count is exact.
        `    - { name: hang.local, url: "${relay('hang.local').url}", timeout: 2s, unavailableRetry: 1h, unavailableRetryMax: 1h }`,
        `    - { name: latest.local, url: "${relay('latest.local').url}", timeout: 2s, unavailableRetry: 1h, unavailableRetryMax: 1h }`,
        `    - { name: flaky.local, url: "${relay('flaky.local').url}", timeout: 2s, unavailableRetry: 200ms, unavailableRetryMax: 400ms }`,
        `    - { name: moving.local, url: "${relay('moving.local').url}", timeout: 10s }`,
        // Every cached tag is stale at once: each pull of a tag starts a check upstream.
        '  tagTtl: 1ms',
        '  alwaysPullLatest: true',
      ].join('\n'),
    });
  });
  after(async () => {
    await porthole?.stop();
    for (const relayed of relays.values()) await relayed.close();
    await upstream?.dispose();
    if (porthole) await cleanup(porthole.root);
  });

  it('serves a stale tag at once while the upstream hangs, checks it once, then stops asking; uncached pulls get 503 at once', async () => {
    const image = await pushImage(upstream.url, 'library/stale', 'v1', [2048]);
    const uncached = await pushImage(upstream.url, 'library/uncached', 'v1', [2048]);
    assert.equal(await digestAt('hang.local', 'library/stale', 'v1'), image.manifestDigest);
    const relayed = relay('hang.local');
    assert.equal(relayed.requests().length, 1, 'the manifest, fetched once');

    relayed.setMode('hang');
    // The first stale pull is answered from the cache, and its check goes upstream behind it.
    assert.equal(await digestAt('hang.local', 'library/stale', 'v1'), image.manifestDigest);
    await waitFor('the background check to reach the upstream', () => relayed.requests().length === 2);
    assert.deepEqual(relayed.requests()[1], { method: 'HEAD', path: '/v2/library/stale/manifests/v1' });
    // Pulls while that check hangs join it: no second check.
    for (let i = 0; i < 3; i += 1) assert.equal(await digestAt('hang.local', 'library/stale', 'v1'), image.manifestDigest);
    await waitFor('the check to time out and open the circuit', async () => (await transitions('hang.local')).open === 1);

    // Open: the cache answers, and nothing more goes upstream, not even the uncached pulls.
    for (let i = 0; i < 3; i += 1) assert.equal(await digestAt('hang.local', 'library/stale', 'v1'), image.manifestDigest);
    const missing = await getManifest(porthole.url, '/v2/hang.local/library/uncached/manifests/v1');
    assert.equal(missing.status, 503);
    assert.deepEqual(errorCodes(missing), ['UNAVAILABLE']);
    assert.match(missing.body.toString(), /hang\.local is unavailable/);
    const missingBlob = await raw(porthole.url, { path: `/v2/hang.local/library/uncached/blobs/${[...uncached.blobs.keys()][0]}` });
    assert.equal(missingBlob.status, 503);
    assert.deepEqual(errorCodes(missingBlob), ['UNAVAILABLE']);
    assert.equal(relayed.requests().length, 2, 'the upstream was asked nothing after the check that hung');

    assert.deepEqual(await transitions('hang.local'), { open: 1, half_open: 0, closed: 0, up: 0 });
    assert.equal(logged('hang.local', 'upstream unavailable').length, 1, 'the outage is logged once');
    assert.equal(logged('hang.local', 'upstream unavailable')[0]?.level, 'warn');
  });

  it('with alwaysPullLatest asks a reachable upstream first; once it hung, `latest` is answered from the cache at once', async () => {
    const image = await pushImage(upstream.url, 'library/pinned', 'latest', [2048]);
    assert.equal(await digestAt('latest.local', 'library/pinned', 'latest'), image.manifestDigest);
    const relayed = relay('latest.local');
    const moved = await pushImage(upstream.url, 'library/pinned', 'latest', [2048]);
    assert.equal(await digestAt('latest.local', 'library/pinned', 'latest'), moved.manifestDigest, 'checked upstream before answering');
    const asked = relayed.requests().length;

    relayed.setMode('hang');
    // This pull waits for the check (the upstream was reachable), then gets the cached manifest.
    assert.equal(await digestAt('latest.local', 'library/pinned', 'latest'), moved.manifestDigest);
    assert.equal(relayed.requests().length, asked + 1);
    assert.equal((await transitions('latest.local')).open, 1);
    // Later pulls do not wait for an upstream known to hang: nothing more reaches it.
    for (let i = 0; i < 3; i += 1) assert.equal(await digestAt('latest.local', 'library/pinned', 'latest'), moved.manifestDigest);
    assert.equal(relayed.requests().length, asked + 1);
  });

  it('probes after the interval, one request at a time, and closes the circuit when the upstream answers again', async () => {
    const cached = await pushImage(upstream.url, 'library/cached', 'v1', [2048]);
    const later = await pushImage(upstream.url, 'library/later', 'v1', [2048]);
    assert.equal(await digestAt('flaky.local', 'library/cached', 'v1'), cached.manifestDigest);
    assert.equal((await transitions('flaky.local')).up, 1);
    const pullLater = () => getManifest(porthole.url, '/v2/flaky.local/library/later/manifests/v1');

    const relayed = relay('flaky.local');
    relayed.setMode('refuse');
    const attemptsBefore = relayed.attempts();
    const refused = await pullLater();
    assert.equal(refused.status, 503);
    assert.deepEqual(errorCodes(refused), ['UNAVAILABLE']);
    assert.equal((await transitions('flaky.local')).open, 1);
    // Cached content is served whatever the circuit's state.
    assert.equal(await digestAt('flaky.local', 'library/cached', 'v1'), cached.manifestDigest);
    // While the upstream refuses, probes fail: half-open, open again. Pulls come four at a time.
    await waitFor('two probes to fail', async () => {
      const answers = await Promise.all(Array.from({ length: 4 }, pullLater));
      assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([503]));
      return (await transitions('flaky.local')).open >= 3;
    });

    relayed.setMode('pass');
    await waitFor('the upstream to be used again', async () => (await pullLater()).status === 200);
    const attempts = relayed.attempts() - attemptsBefore;
    const counted = await transitions('flaky.local');
    // closed -> open, then half_open -> open per failed probe, then half_open -> closed.
    assert.equal(counted.closed, 1);
    assert.equal(counted.half_open, counted.open, `every opening after the first followed a failed probe: ${JSON.stringify(counted)}`);
    assert.equal(attempts, 1 + counted.half_open, `the request that opened the circuit, then one probe per half-open state: ${attempts} attempts, ${JSON.stringify(counted)}`);
    assert.equal(counted.up, 1);
    assert.equal(await digestAt('flaky.local', 'library/later', 'v1'), later.manifestDigest);
    assert.equal(logged('flaky.local', 'upstream unavailable').length, 1, 'unavailable: logged once');
    assert.equal(logged('flaky.local', 'upstream available again').length, 1, 'available again: logged once');
    assert.equal(logged('flaky.local', 'upstream available again')[0]?.level, 'info');
  });

  it('serves a stale tag as cached and revalidates it in the background: the next pull gets where the tag moved', async () => {
    const first = await pushImage(upstream.url, 'library/moving', 'v1', [2048]);
    assert.equal(await digestAt('moving.local', 'library/moving', 'v1'), first.manifestDigest);
    const moved = await pushImage(upstream.url, 'library/moving', 'v1', [2048]);
    const relayed = relay('moving.local');
    const asked = relayed.requests().length;

    assert.equal(await digestAt('moving.local', 'library/moving', 'v1'), first.manifestDigest, 'answered from the cache, not after a check');
    await waitFor('the background check to fetch the moved tag', () =>
      relayed.requests().slice(asked).some((request) => request.method === 'GET' && request.path === '/v2/library/moving/manifests/v1'),
    );
    assert.deepEqual(relayed.requests()[asked], { method: 'HEAD', path: '/v2/library/moving/manifests/v1' }, 'checked with a HEAD first');
    await waitFor('the moved tag to be served', async () => (await digestAt('moving.local', 'library/moving', 'v1')) === moved.manifestDigest);
  });

  it('drops a cached tag the background check finds gone upstream, so the pull after answers 404 as the upstream does', async () => {
    const image = await pushImage(upstream.url, 'library/gone', 'v1', [2048]);
    assert.equal(await digestAt('moving.local', 'library/gone', 'v1'), image.manifestDigest);
    const deleted = await raw(upstream.url, { method: 'DELETE', path: `/v2/library/gone/manifests/${image.manifestDigest}` });
    assert.equal(deleted.status, 202);

    assert.equal(await digestAt('moving.local', 'library/gone', 'v1'), image.manifestDigest, 'answered from the cache while it is checked');
    await waitFor('the tag to be gone from the cache', async () => (await getManifest(porthole.url, '/v2/moving.local/library/gone/manifests/v1')).status === 404);
    assert.deepEqual(errorCodes(await getManifest(porthole.url, '/v2/moving.local/library/gone/manifests/v1')), ['MANIFEST_UNKNOWN']);
    // The manifest itself stays cached, by digest, until pruned.
    assert.equal((await getManifest(porthole.url, `/v2/moving.local/library/gone/manifests/${image.manifestDigest}`)).status, 200);
    const removals = () => logLines(porthole.output()).filter((line) => line.msg === 'cached tag removed: the upstream no longer has it' && line.repo === 'moving.local/library/gone').length;
    // Log lines go out at the end of the event-loop turn that wrote them, after the answer.
    await waitFor('the removal to be logged', () => removals() > 0);
    assert.equal(removals(), 1);
  });
});
