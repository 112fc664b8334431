import assert from 'node:assert/strict';
import { Exposition } from '../helpers/prometheus-text.js';
import { storageCensus, type StorageCensus } from '../helpers/storage-tree.js';
import { waitFor } from '../helpers/wait-for.js';

/** GETs a Prometheus text endpoint (porthole in full mode, porthole-exporter) and parses it. */
export async function fetchExposition(url: string): Promise<Exposition> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  assert.equal(response.status, 200, `GET ${url}: ${text.slice(0, 300)}`);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4\b/);
  return new Exposition(text);
}

/** When the storage scan behind the gauges of `exposition` started (Date.now() time). */
export function scanStartedAt(exposition: Exposition): number {
  const finished = exposition.value('porthole_storage_scan_timestamp_seconds');
  const took = exposition.value('porthole_storage_scan_duration_seconds');
  assert.ok(finished !== undefined && took !== undefined, 'the storage scan gauges are exposed');
  return (finished - took) * 1000;
}

/** The storage gauges of `exposition` are exactly `census` (per-repository bytes included, when no repository is past maxRepoLabels). */
export function assertStorageGauges(exposition: Exposition, census: StorageCensus): void {
  const objects = exposition.byLabel('porthole_storage_objects', 'kind');
  assert.deepEqual(objects, { blob: census.blob.count, manifest: census.manifest.count, repository: census.repository, tag: census.tag, upload: census.upload });
  assert.deepEqual(exposition.byLabel('porthole_storage_bytes', 'kind'), { blob: census.blob.bytes, manifest: census.manifest.bytes });
  assert.deepEqual(exposition.byLabel('porthole_repo_storage_bytes', 'repo'), Object.fromEntries(census.repositoryBytes));
}

/** Polls porthole's full-mode metrics until they report a storage scan that started at or after `sinceMs` (bounded). */
export async function metricsScannedSince(url: string, sinceMs: number): Promise<Exposition> {
  let exposition: Exposition | undefined;
  await waitFor('a storage scan after the changes', async () => {
    exposition = await fetchExposition(`${url}/metrics`);
    return scanStartedAt(exposition) >= sinceMs;
  }, 10_000);
  return exposition as Exposition;
}

/** Once a storage scan after `sinceMs` is reported, its gauges are those of the files under `root`. */
export async function assertGaugesMatchDisk(url: string, root: string, sinceMs: number): Promise<StorageCensus> {
  const exposition = await metricsScannedSince(url, sinceMs);
  const census = await storageCensus(root);
  assertStorageGauges(exposition, census);
  return census;
}
