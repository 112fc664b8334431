import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricsSchema } from '../../src/config/schema.js';
import type { RequestObservation } from '../../src/observability/metrics/recorder.js';
import { OTHER_REPOS, RepoLabels } from '../../src/observability/metrics/repo-labels.js';
import { createTelemetry, type Telemetry } from '../../src/observability/metrics/telemetry.js';
import { Exposition } from '../helpers/prometheus-text.js';
import { NO_CACHES } from '../../src/storage/types.js';

/**
 * Built through createTelemetry (the composition root) and read through the registry's text
 * output, as a scrape would: what is asserted is what Prometheus sees, however the recorder keeps
 * its numbers inside.
 */
function telemetry(enable: boolean, maxRepoLabels = 100): Telemetry {
  return createTelemetry(metricsSchema.parse({ enable, maxRepoLabels }), () => NO_CACHES);
}

async function scrape(t: Telemetry): Promise<Exposition> {
  return new Exposition(await t.registry.metrics());
}

const GET_MANIFEST: RequestObservation = { method: 'GET', route: '/v2/:name/manifests/:reference', status: 200, seconds: 0.002, bytesIn: 0, bytesOut: 500 };

describe('RepoLabels', () => {
  it('keeps the first max repositories, in the order seen, and sends every later one to _other', () => {
    const labels = new RepoLabels(2);
    assert.deepEqual(['a', 'b', 'c', 'a', 'd', 'b'].map((repo) => labels.label(repo)), ['a', 'b', OTHER_REPOS, 'a', OTHER_REPOS, 'b']);
  });

  it('with a maximum of 0, every repository is _other', () => {
    const labels = new RepoLabels(0);
    assert.deepEqual([labels.label('a'), labels.label('b')], [OTHER_REPOS, OTHER_REPOS]);
  });
});

describe('MetricsRecorder', () => {
  it('full mode counts requests, pulls, pushes and storage operations', async () => {
    const t = telemetry(true);
    const r = t.recorder;
    const counted = r.requestStarted('GET');
    assert.equal(counted, 'read');
    assert.equal((await scrape(t)).value('porthole_http_requests_in_flight', { kind: 'read' }), 1);
    const write = r.requestStarted('PUT');
    assert.equal(write, 'write');
    assert.deepEqual((await scrape(t)).byLabel('porthole_http_requests_in_flight', 'kind'), { read: 1, write: 1 });
    r.requestFinished(write, { ...GET_MANIFEST, method: 'PUT', status: 201 });
    r.requestFinished(counted, GET_MANIFEST);
    r.pulled('manifest', 500, 'lib/a');
    r.pulled('blob', 1000, 'lib/a');
    r.pushedManifest('lib/b');
    r.storageOperation('stat', 0.001, true);
    const metrics = await scrape(t);
    assert.equal(metrics.value('porthole_http_requests_total', { method: 'GET', route: '/v2/:name/manifests/:reference', code: '200' }), 1);
    assert.equal(metrics.value('porthole_http_requests_total', { method: 'PUT', code: '201' }), 1);
    assert.equal(metrics.value('porthole_http_request_duration_seconds_bucket', { method: 'GET', le: '0.001' }), 0);
    assert.equal(metrics.value('porthole_http_request_duration_seconds_bucket', { method: 'GET', le: '0.0025' }), 1);
    assert.equal(metrics.value('porthole_http_response_size_bytes_sum', { method: 'GET' }), 500);
    assert.deepEqual(metrics.byLabel('porthole_pulls_total', 'type'), { manifest: 1, blob: 1 });
    assert.deepEqual(metrics.byLabel('porthole_pull_bytes_total', 'type'), { manifest: 500, blob: 1000 });
    assert.deepEqual(metrics.byLabel('porthole_repo_downloads_total', 'repo'), { 'lib/a': 1 }, 'only manifest GETs are downloads');
    assert.deepEqual(metrics.byLabel('porthole_repo_uploads_total', 'repo'), { 'lib/b': 1 });
    assert.deepEqual(metrics.byLabel('porthole_storage_operation_errors_total', 'operation'), { stat: 1 });
    assert.deepEqual(metrics.byLabel('porthole_http_requests_in_flight', 'kind'), { read: 0, write: 0 });
    assert.equal(metrics.value('porthole_metrics_collection_enabled'), 1);
    assert.equal(metrics.value('porthole_info', { mode: 'full' }), 1);
  });

  it('minimal mode drops every per-request update while collection is off', async () => {
    const t = telemetry(false);
    const r = t.recorder;
    r.requestFinished(r.requestStarted('GET'), GET_MANIFEST);
    r.pulled('manifest', 500, 'lib/a');
    r.pushedManifest('lib/a');
    r.storageOperation('stat', 0.001, true);
    r.lockWaited('upload', 0.5);
    const off = await scrape(t);
    assert.equal(off.value('porthole_metrics_collection_enabled'), 0);
    assert.equal(off.value('porthole_info', { mode: 'minimal' }), 1);
    for (const name of [
      'porthole_http_requests_total',
      'porthole_http_request_duration_seconds_count',
      'porthole_pulls_total',
      'porthole_repo_downloads_total',
      'porthole_repo_uploads_total',
      'porthole_storage_operation_errors_total',
      'porthole_storage_operation_duration_seconds_count',
      'porthole_storage_lock_wait_seconds_count',
    ]) {
      assert.deepEqual(off.find(name), [], name);
    }

    r.setCollecting(true);
    r.pushedManifest('lib/a');
    const on = await scrape(t);
    assert.deepEqual(on.byLabel('porthole_repo_uploads_total', 'repo'), { 'lib/a': 1 });
    assert.equal(on.value('porthole_metrics_collection_enabled'), 1);
  });

  it('keeps requests in flight balanced across a switch, either way', async () => {
    const t = telemetry(false);
    const r = t.recorder;
    const startedOff = r.requestStarted('GET');
    r.setCollecting(true);
    const startedOn = r.requestStarted('GET');
    assert.deepEqual([startedOff, startedOn], [undefined, 'read']);
    assert.equal((await scrape(t)).value('porthole_http_requests_in_flight', { kind: 'read' }), 1);
    r.requestFinished(startedOff, GET_MANIFEST);
    assert.equal((await scrape(t)).value('porthole_http_requests_in_flight', { kind: 'read' }), 1, 'a request never counted in is not counted out');
    r.setCollecting(false);
    r.requestFinished(startedOn, GET_MANIFEST);
    assert.equal((await scrape(t)).value('porthole_http_requests_in_flight', { kind: 'read' }), 0, 'a request counted in is counted out even with collection off');
  });

  it('labels repositories past maxRepoLabels as _other in uploads and downloads alike', async () => {
    const t = telemetry(true, 1);
    for (const repo of ['first', 'second', 'third']) {
      t.recorder.pushedManifest(repo);
      t.recorder.pulled('manifest', 10, repo);
    }
    const metrics = await scrape(t);
    assert.deepEqual(metrics.byLabel('porthole_repo_uploads_total', 'repo'), { first: 1, [OTHER_REPOS]: 2 });
    assert.deepEqual(metrics.byLabel('porthole_repo_downloads_total', 'repo'), { first: 1, [OTHER_REPOS]: 2 });
  });
});
