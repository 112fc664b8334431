import { MANAGEMENT_PREFIX, type JobRunJson, type JobsResponse, type ReplicaRecord, type ReplicasResponse, type SummaryResponse } from '../../management/api-types.js';
import { parseJson, type RegistryClient } from './registry-client.js';

/** What a porthole target tells beyond the OCI API, from its management API (docs/api.md). */
export interface PortholeFigures {
  summary: SummaryResponse;
  /** Absent when /api/v1/replicas could not be read this time. */
  replicas: ReplicaRecord[] | undefined;
  /** The last --job-count runs, newest first; absent when /api/v1/jobs could not be read. */
  jobs: JobRunJson[] | undefined;
  /** When they were read (ms since the epoch), for the age of heartbeats. */
  readAt: number;
}

/** The management API answers under the registry scope for a bearer token, as the catalog. */
const SCOPE = 'registry:catalog:*';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSummary(value: unknown): value is SummaryResponse {
  return isObject(value) && typeof value.bytesStored === 'number' && typeof value.version === 'string' && typeof value.replicaId === 'string' && typeof value.blobs === 'number';
}

/** The JSON of a 200 answer, or undefined for anything else. */
async function readJson(client: RegistryClient, path: string, signal: AbortSignal): Promise<unknown> {
  const response = await client.request(`${MANAGEMENT_PREFIX.slice(1)}/${path}`, { scope: SCOPE, signal, accept: 'application/json' });
  if (response.status !== 200) return undefined;
  try {
    return parseJson(response, path);
  } catch {
    return undefined;
  }
}

/**
 * Reads porthole's summary, replicas and recent jobs. Any other registry answers 404 (or
 * something that is not a summary) to GET /api/v1/summary: then undefined, which is not an error.
 * A request that fails throws (the collection's signal, an unreachable target): the caller decides.
 */
export async function readPorthole(client: RegistryClient, jobCount: number, signal: AbortSignal): Promise<PortholeFigures | undefined> {
  const summary = await readJson(client, 'summary', signal);
  if (!isSummary(summary)) return undefined;
  const [replicas, jobs] = await Promise.all([readJson(client, 'replicas', signal), readJson(client, `jobs?limit=${jobCount}`, signal)]);
  const replicaArray = isObject(replicas) ? (replicas as Partial<ReplicasResponse>).replicas : undefined;
  const jobArray = isObject(jobs) ? (jobs as Partial<JobsResponse>).jobs : undefined;
  const replicaList = Array.isArray(replicaArray) ? replicaArray.filter((r) => isObject(r) && typeof r.id === 'string') : undefined;
  const jobList = Array.isArray(jobArray) ? jobArray.filter((j) => isObject(j) && typeof j.action === 'string').slice(0, jobCount) : undefined;
  return { summary, replicas: replicaList, jobs: jobList, readAt: Date.now() };
}

/** Job runs counted by action and outcome (dtr_job_total{action,status}). */
export function jobCounts(jobs: readonly JobRunJson[]): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>();
  for (const job of jobs) {
    const byStatus = counts.get(job.action) ?? new Map<string, number>();
    byStatus.set(String(job.outcome), (byStatus.get(String(job.outcome)) ?? 0) + 1);
    counts.set(job.action, byStatus);
  }
  return counts;
}

/** The end of the most recent run of each action, in unix seconds. */
export function lastRuns(jobs: readonly JobRunJson[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const job of jobs) {
    const ended = Date.parse(job.endedAt ?? job.startedAt);
    if (Number.isNaN(ended)) continue;
    last.set(job.action, Math.max(last.get(job.action) ?? 0, ended / 1000));
  }
  return last;
}
