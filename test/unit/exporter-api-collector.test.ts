import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { CollectionLoop } from '../../src/exporter/api/collection-loop.js';
import { Collector } from '../../src/exporter/api/collector.js';
import { ManifestCache } from '../../src/exporter/api/manifest-cache.js';
import { declareApiMetrics } from '../../src/exporter/api/metrics.js';
import { RegistryClient, RegistryRequestError } from '../../src/exporter/api/registry-client.js';
import type { JobRunJson, ReplicaRecord, SummaryResponse } from '../../src/management/api-types.js';
import { memoryLogger } from '../helpers/memory-logger.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

function digestOf(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

function imageManifest(seed: string): string {
  const blob = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(`${seed}-${n}`), size: 1000 * n });
  return JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(`${seed}-config`), size: 7 }, layers: [blob(1), blob(2)] });
}

type Mode = 'ok' | '500' | 'html' | 'garbage' | 'hang';

/**
 * A registry of the distribution API, in memory, that counts what it is asked: enough of
 * /v2/ (catalog and tag lists paginated with Link headers, manifests by tag and digest, blob
 * HEAD), optional bearer-token auth with a token endpoint, and porthole's /api/v1 when given.
 */
class FakeRegistry {
  readonly manifests = new Map<string, { body: string; type: string }>();
  readonly repositories = new Map<string, Map<string, string>>();
  mode: Mode = 'ok';
  pageSize = 2;
  /** Bearer auth: clients need a token of `token`'s realm, issued for the Basic user/secret. */
  auth: { user: string; password: string } | undefined;
  porthole: { summary: SummaryResponse; replicas: ReplicaRecord[]; jobs: JobRunJson[] } | undefined;
  counts = { manifestGets: [] as string[], probeGets: 0, tagLists: new Map<string, number>(), catalogPages: 0, tokens: 0, heads: 0 };
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => this.handle(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  resetCounts(): void {
    this.counts = { manifestGets: [], probeGets: 0, tagLists: new Map(), catalogPages: 0, tokens: 0, heads: 0 };
  }

  /** Stores a manifest and returns its digest. */
  add(body: string, type = OCI_MANIFEST): string {
    const digest = digestOf(body);
    this.manifests.set(digest, { body, type });
    return digest;
  }

  tag(repository: string, tag: string, digest: string): void {
    const tags = this.repositories.get(repository) ?? new Map<string, string>();
    tags.set(tag, digest);
    this.repositories.set(repository, tags);
  }

  private json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  }

  /** A page of `names` after `last`, with a Link to the next page when there is one. */
  private page(response: ServerResponse, url: URL, names: string[], key: string): void {
    const n = Number(url.searchParams.get('n') ?? this.pageSize);
    const size = Math.min(n, this.pageSize);
    const last = url.searchParams.get('last');
    const sorted = [...names].sort();
    const start = last === null ? 0 : sorted.findIndex((name) => name > last);
    const slice = start < 0 ? [] : sorted.slice(start, start + size);
    const headers: Record<string, string> = {};
    if (start >= 0 && start + size < sorted.length) headers.link = `<${url.pathname}?n=${n}&last=${encodeURIComponent(slice[slice.length - 1] as string)}>; rel="next"`;
    this.json(response, 200, { ...(key === 'tags' ? { name: url.pathname.split('/').slice(2, -2).join('/') } : {}), [key]: slice }, headers);
  }

  private authorized(request: IncomingMessage, response: ServerResponse): boolean {
    if (!this.auth) return true;
    if (request.headers.authorization === 'Bearer good-token') return true;
    response.writeHead(401, { 'www-authenticate': `Bearer realm="${this.url}/token",service="fake"`, 'content-type': 'application/json' });
    response.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    return false;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', this.url);
    if (url.pathname === '/token') {
      this.counts.tokens += 1;
      const expected = `Basic ${Buffer.from(`${this.auth?.user}:${this.auth?.password}`).toString('base64')}`;
      if (request.headers.authorization !== expected) return this.json(response, 401, { details: 'bad credentials' });
      return this.json(response, 200, { token: 'good-token', expires_in: 300 });
    }
    if (this.mode === 'hang') return; // never answers
    if (this.mode === '500') return this.json(response, 500, { errors: [{ code: 'UNKNOWN' }] });
    if (this.mode === 'html') {
      response.writeHead(200, { 'content-type': 'text/html' });
      return void response.end('<html><body>Welcome to nginx!</body></html>');
    }
    if (!this.authorized(request, response)) return;
    if (url.pathname === '/v2/') return this.json(response, 200, {});
    if (this.mode === 'garbage') {
      response.writeHead(200, { 'content-type': 'application/json' });
      return void response.end('{"repositories": [');
    }
    if (url.pathname.startsWith('/api/v1/')) {
      if (!this.porthole) return this.json(response, 404, { errors: [{ code: 'NOT_FOUND' }] });
      const what = url.pathname.slice('/api/v1/'.length);
      if (what === 'summary') return this.json(response, 200, this.porthole.summary);
      if (what === 'replicas') return this.json(response, 200, { replicas: this.porthole.replicas });
      if (what === 'jobs') return this.json(response, 200, { jobs: this.porthole.jobs.slice(0, Number(url.searchParams.get('limit'))) });
    }
    if (url.pathname === '/v2/_catalog') {
      this.counts.catalogPages += 1;
      return this.page(response, url, [...this.repositories.keys()], 'repositories');
    }
    const match = /^\/v2\/(.+)\/(tags\/list|manifests\/[^/]+|blobs\/[^/]+)$/.exec(url.pathname);
    const tags = match ? this.repositories.get(match[1] as string) : undefined;
    if (!match || !tags) return this.json(response, 404, { errors: [{ code: 'NAME_UNKNOWN' }] });
    const [, name, rest] = match as unknown as [string, string, string];
    if (rest === 'tags/list') {
      if (url.searchParams.get('last') === null) this.counts.tagLists.set(name, (this.counts.tagLists.get(name) ?? 0) + 1);
      return this.page(response, url, [...tags.keys()], 'tags');
    }
    if (rest.startsWith('blobs/')) {
      response.writeHead(200, { 'content-length': '7' });
      return void response.end();
    }
    const reference = decodeURIComponent(rest.slice('manifests/'.length));
    const digest = reference.startsWith('sha256:') ? reference : tags.get(reference);
    const manifest = digest === undefined ? undefined : this.manifests.get(digest);
    if (!manifest || digest === undefined) return this.json(response, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    response.writeHead(200, { 'content-type': manifest.type, 'docker-content-digest': digest, 'content-length': String(Buffer.byteLength(manifest.body)) });
    if (request.method === 'HEAD') {
      this.counts.heads += 1;
      return void response.end();
    }
    if (String(request.headers['user-agent']).includes('(probe)')) this.counts.probeGets += 1;
    else this.counts.manifestGets.push(`${name}@${digest}`);
    response.end(manifest.body);
  }
}

function clientFor(registry: FakeRegistry, credentials: { username?: string; password?: string } = {}, timeoutMs = 5000): RegistryClient {
  return new RegistryClient({ baseUrl: registry.url, ...credentials, tls: { rejectUnauthorized: false }, timeoutMs, userAgent: 'porthole-exporter/test' });
}

describe('porthole-exporter api: collection', () => {
  const registry = new FakeRegistry();
  let amd: string;
  let arm: string;
  let list: string;
  before(async () => {
    await registry.start();
  });
  after(() => registry.stop());
  beforeEach(() => {
    registry.repositories.clear();
    registry.mode = 'ok';
    registry.auth = undefined;
    registry.porthole = undefined;
    registry.resetCounts();
    amd = registry.add(imageManifest('amd64'));
    arm = registry.add(imageManifest('arm64'));
    list = registry.add(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd, arm].map((digest) => ({ mediaType: OCI_MANIFEST, digest, size: 1 })) }), OCI_INDEX);
  });

  it('fetches a manifest once by digest, shared across repositories; a second collection fetches none', async () => {
    for (const repository of ['a/app', 'b/app', 'c/app', 'd/app', 'e/app']) {
      registry.tag(repository, 'v1', list);
      registry.tag(repository, 'v2', amd);
      registry.tag(repository, 'latest', amd);
    }
    const cache = new ManifestCache();
    const { logger } = memoryLogger('error');
    const collector = new Collector(clientFor(registry), cache, { jobCount: 10, userAgent: 'porthole-exporter/test', pageSize: 2 }, logger);
    const first = await collector.collect(AbortSignal.timeout(5000));
    assert.deepEqual([first.repositories, first.tags], [5, 15]);
    // The index and its two children, each once, though five repositories tag them.
    assert.equal(registry.counts.manifestGets.length, 3);
    assert.deepEqual(new Set(registry.counts.manifestGets.map((get) => get.split('@')[1])), new Set([list, amd, arm]));
    assert.equal(first.manifestsFetched, 3);
    assert.deepEqual(first.manifests, { image: 10, index: 5, artifact: 0 });
    assert.deepEqual(first.probe.manifest?.ok, true);
    assert.deepEqual(first.probe.blob?.ok, true);
    assert.equal(registry.counts.probeGets, 1);
    assert.equal(registry.counts.catalogPages, 3, 'five repositories, two a page');
    for (const count of registry.counts.tagLists.values()) assert.equal(count, 1, 'each tag list read once per collection');

    registry.resetCounts();
    const second = await collector.collect(AbortSignal.timeout(5000));
    assert.deepEqual(registry.counts.manifestGets, [], 'nothing changed: no manifest fetched');
    assert.equal(second.manifestsFetched, 0);
    assert.equal(registry.counts.heads, 15, 'one HEAD per tag');
    assert.deepEqual(second.figures, first.figures);

    // A tag moves to a new image: only that manifest is fetched; what no tag reaches leaves the cache.
    const fresh = registry.add(imageManifest('fresh'));
    for (const repository of registry.repositories.keys()) {
      registry.tag(repository, 'v1', fresh);
    }
    registry.resetCounts();
    const third = await collector.collect(AbortSignal.timeout(5000));
    const gets: string[] = [...registry.counts.manifestGets];
    assert.deepEqual(gets.map((get) => get.split('@')[1]), [fresh]);
    assert.equal(cache.has(list), false);
    assert.equal(cache.has(arm), false);
    assert.equal(cache.has(amd), true);
    assert.deepEqual(third.manifests, { image: 10, index: 0, artifact: 0 });
  });

  it('sizes are those of the distinct digests each repository reaches', async () => {
    registry.tag('multi', 'v1', list);
    registry.tag('multi', 'amd', amd);
    const collector = new Collector(clientFor(registry), new ManifestCache(), { jobCount: 10, userAgent: 'test' }, memoryLogger('error').logger);
    const result = await collector.collect(AbortSignal.timeout(5000));
    const bytes = (digest: string) => Buffer.byteLength(registry.manifests.get(digest)?.body ?? '');
    // Each image: config 7 + layers 1000 + 2000.
    assert.deepEqual(result.figures, [{ name: 'multi', tags: 2, sizeBytes: bytes(list) + bytes(amd) + bytes(arm) + 2 * 3007, manifests: { image: 2, index: 1, artifact: 0 } }]);
  });

  it('does the bearer-token dance with the Basic credentials, and keeps tokens until they expire', async () => {
    registry.auth = { user: 'robot', password: 's3cret' };
    registry.tag('private/app', 'v1', amd);
    const collector = new Collector(clientFor(registry, { username: 'robot', password: 's3cret' }), new ManifestCache(), { jobCount: 10, userAgent: 'test' }, memoryLogger('error').logger);
    const first = await collector.collect(AbortSignal.timeout(5000));
    assert.equal(first.tags, 1);
    const tokens = registry.counts.tokens;
    assert.ok(tokens >= 1);
    registry.resetCounts();
    await collector.collect(AbortSignal.timeout(5000));
    assert.equal(registry.counts.tokens, 0, 'tokens reused');

    const refused = new Collector(clientFor(registry, { username: 'robot', password: 'wrong' }), new ManifestCache(), { jobCount: 10, userAgent: 'test' }, memoryLogger('error').logger);
    await assert.rejects(refused.collect(AbortSignal.timeout(5000)), (err: unknown) => err instanceof RegistryRequestError && err.reason === 'unauthorized');
  });

  it('a registry answering 500, HTML, garbage JSON, nothing, or refusing connections fails the collection with a reason', async () => {
    registry.tag('x', 'v1', amd);
    const collector = new Collector(clientFor(registry, {}, 300), new ManifestCache(), { jobCount: 10, userAgent: 'test' }, memoryLogger('error').logger);
    const reasons: Record<string, string> = {};
    for (const mode of ['500', 'html', 'garbage', 'hang'] as const) {
      registry.mode = mode;
      try {
        await collector.collect(AbortSignal.timeout(300));
        reasons[mode] = 'success';
      } catch (err) {
        reasons[mode] = err instanceof RegistryRequestError ? err.reason : `unexpected ${String(err)}`;
      }
    }
    assert.deepEqual(reasons, { '500': 'status', html: 'invalid', garbage: 'invalid', hang: 'timeout' });
    const nowhere = new RegistryClient({ baseUrl: 'http://127.0.0.1:1', tls: { rejectUnauthorized: true }, timeoutMs: 1000, userAgent: 'test' });
    const down = new Collector(nowhere, new ManifestCache(), { jobCount: 1, userAgent: 'test' }, memoryLogger('error').logger);
    await assert.rejects(down.collect(AbortSignal.timeout(1000)), (err: unknown) => err instanceof RegistryRequestError && err.reason === 'unreachable');
  });

  it('the loop: up follows the registry, one warn line per outage and one info line when it is back', async () => {
    registry.tag('x', 'v1', amd);
    const { logger, lines } = memoryLogger('info');
    const own = new Registry();
    const portholeRegistry = new Registry();
    const metrics = declareApiMetrics(own, portholeRegistry);
    const collector = new Collector(clientFor(registry, {}, 500), new ManifestCache(), { jobCount: 10, userAgent: 'test' }, logger);
    const loop = new CollectionLoop(collector, metrics, { intervalMs: 60_000, timeoutMs: 500, maxRepositories: 10, target: registry.url }, logger);
    const value = async (name: string) => (await own.getSingleMetric(name)?.get())?.values[0]?.value;
    await loop.runOnce();
    assert.equal(await value('oci_registry_up'), 1);
    registry.mode = '500';
    await loop.runOnce();
    registry.mode = 'html';
    await loop.runOnce();
    assert.equal(await value('oci_registry_up'), 0);
    assert.equal(await value('oci_registry_repositories'), 1, 'the last figures stay');
    registry.mode = 'ok';
    await loop.runOnce();
    assert.equal(await value('oci_registry_up'), 1);
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg]),
      [
        ['info', 'first collection done'],
        ['warn', 'registry unreachable; oci_registry_up 0 until a collection succeeds'],
        ['info', 'registry is reachable again; oci_registry_up 1'],
      ],
    );
    assert.equal(lines[1]?.reason, 'status');
    await loop.stop();
  });

  it("reads porthole's management API into the porthole gauges; another registry's 404 there is no error", async () => {
    registry.tag('x', 'v1', amd);
    const own = new Registry();
    const portholeRegistry = new Registry();
    const metrics = declareApiMetrics(own, portholeRegistry);
    const collector = new Collector(clientFor(registry), new ManifestCache(), { jobCount: 3, userAgent: 'test' }, memoryLogger('error').logger);
    const loop = new CollectionLoop(collector, metrics, { intervalMs: 60_000, timeoutMs: 5000, maxRepositories: 10, target: registry.url }, memoryLogger('error').logger);
    await loop.runOnce();
    assert.equal(loop.porthole, false);
    assert.equal((await own.getSingleMetric('oci_registry_up')?.get())?.values[0]?.value, 1);

    const now = Date.now();
    const job = (action: string, outcome: JobRunJson['outcome'], endedMs: number): JobRunJson => ({ action, trigger: 'schedule', startedAt: new Date(endedMs - 1000).toISOString(), endedAt: new Date(endedMs).toISOString(), seconds: 1, outcome, summary: {} });
    registry.porthole = {
      summary: { repositories: 1, tags: 1, manifests: 1, blobs: 3, bytesStored: 3007, garbageBytes: 12, uploadsInProgress: 2, uptimeSeconds: 99, version: '9.9.9', mode: 'hosted', replicaId: 'r1', computedAt: new Date(now).toISOString() },
      replicas: [
        { id: 'r1', address: '127.0.0.1:5000', version: '9.9.9', startedAt: new Date(now - 99_000).toISOString(), inFlight: 4, lastHeartbeat: new Date(now - 2000).toISOString(), healthy: true },
        { id: 'r2', address: '127.0.0.1:5001', version: '9.9.9', startedAt: new Date(now - 99_000).toISOString(), inFlight: 0, lastHeartbeat: new Date(now - 60_000).toISOString(), healthy: false },
      ],
      jobs: [job('gc', 'success', now - 1000), job('gc', 'failure', now - 5000), job('scrub', 'success', now - 3000), job('gc', 'success', now - 9000)],
    };
    await loop.runOnce();
    assert.equal(loop.porthole, true);
    const text = await portholeRegistry.metrics();
    const sample = (pattern: string) => new RegExp(`^${pattern} (\\S+)$`, 'm').exec(text)?.[1];
    assert.equal(sample('oci_registry_stored_bytes'), '3007');
    assert.equal(sample('oci_registry_garbage_bytes'), '12');
    assert.equal(sample('oci_registry_blobs'), '3');
    assert.equal(sample('oci_registry_uploads_in_progress'), '2');
    assert.equal(sample('oci_registry_target_uptime_seconds'), '99');
    assert.equal(sample('oci_registry_target_info\\{version="9.9.9",mode="hosted",replica="r1"\\}'), '1');
    assert.equal(sample('oci_registry_replicas\\{health="healthy"\\}'), '1');
    assert.equal(sample('oci_registry_replicas\\{health="unhealthy"\\}'), '1');
    assert.equal(sample('oci_registry_replica_in_flight_requests\\{replica="r1"\\}'), '4');
    assert.equal(sample('oci_registry_replica_healthy\\{replica="r2"\\}'), '0');
    assert.ok(Number(sample('oci_registry_replica_heartbeat_age_seconds\\{replica="r2"\\}')) >= 60);
    // --job-count 3: the three newest runs.
    assert.equal(sample('oci_registry_jobs\\{action="gc",status="success"\\}'), '1');
    assert.equal(sample('oci_registry_jobs\\{action="gc",status="failure"\\}'), '1');
    assert.equal(sample('oci_registry_jobs\\{action="scrub",status="success"\\}'), '1');
    assert.equal(Number(sample('oci_registry_job_last_run_timestamp_seconds\\{action="gc"\\}')), Math.floor((now - 1000) / 1000) + ((now - 1000) % 1000) / 1000);
    await loop.stop();
  });
});
