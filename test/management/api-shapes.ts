import assert from 'node:assert/strict';
import type { JobRunJson, ReplicaRecord, RepositoryRecord, SummaryResponse } from '../../src/management/api-types.js';

/**
 * Checks that JSON answers of the management API are exactly the committed types
 * (src/management/api-types.ts): every key, no other, each of its type. The key lists are tied to
 * the types at compile time: a field added to a type and not here fails the build.
 */

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'string|null' | 'number|null' | 'string?';
type Shape<T> = { [K in keyof T]-?: Kind };

const SUMMARY: Shape<SummaryResponse> = {
  repositories: 'number',
  tags: 'number',
  manifests: 'number',
  blobs: 'number',
  bytesStored: 'number',
  garbageBytes: 'number|null',
  uploadsInProgress: 'number',
  uptimeSeconds: 'number',
  version: 'string',
  mode: 'string',
  replicaId: 'string',
  computedAt: 'string',
};

const REPLICA: Shape<ReplicaRecord> = {
  id: 'string',
  address: 'string',
  version: 'string',
  startedAt: 'string',
  inFlight: 'number',
  lastHeartbeat: 'string',
  healthy: 'boolean',
};

const JOB_RUN: Shape<JobRunJson> = {
  action: 'string',
  trigger: 'string',
  startedAt: 'string',
  endedAt: 'string',
  seconds: 'number',
  outcome: 'string',
  summary: 'object',
  error: 'string?',
};

const REPOSITORY: Shape<RepositoryRecord> = {
  name: 'string',
  tags: 'number',
  sizeBytes: 'number',
  lastPush: 'string|null',
  lastPull: 'string|null',
};

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TIME_KEYS = new Set(['startedAt', 'endedAt', 'lastHeartbeat', 'computedAt', 'lastPush', 'lastPull']);

function assertShape(value: unknown, shape: Record<string, Kind>, what: string): void {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${what} is an object`);
  const record = value as Record<string, unknown>;
  const required = Object.entries(shape).filter(([, kind]) => kind !== 'string?').map(([key]) => key);
  for (const key of Object.keys(record)) assert.ok(Object.hasOwn(shape, key), `${what} has no field ${key} in the contract`);
  for (const key of required) assert.ok(Object.hasOwn(record, key), `${what} lacks ${key}`);
  for (const [key, kind] of Object.entries(shape)) {
    const field = record[key];
    const ok =
      kind === 'string|null' ? field === null || typeof field === 'string'
      : kind === 'number|null' ? field === null || typeof field === 'number'
      : kind === 'string?' ? field === undefined || typeof field === 'string'
      : kind === 'object' ? typeof field === 'object' && field !== null && !Array.isArray(field)
      : kind === 'array' ? Array.isArray(field)
      : typeof field === kind;
    assert.ok(ok, `${what}.${key} is ${kind}, not ${JSON.stringify(field)}`);
    if (TIME_KEYS.has(key) && typeof field === 'string') assert.match(field, ISO_TIME, `${what}.${key} is an ISO 8601 time`);
  }
}

export function assertSummary(value: unknown): SummaryResponse {
  assertShape(value, SUMMARY, 'summary');
  const summary = value as SummaryResponse;
  assert.ok(summary.mode === 'hosted' || summary.mode === 'cache', `mode ${summary.mode}`);
  return summary;
}

export function assertReplicas(value: unknown): ReplicaRecord[] {
  assertShape(value, { replicas: 'array' }, 'replicas response');
  const replicas = (value as { replicas: unknown[] }).replicas;
  replicas.forEach((replica, index) => assertShape(replica, REPLICA, `replicas[${index}]`));
  return replicas as ReplicaRecord[];
}

export function assertJobs(value: unknown): JobRunJson[] {
  assertShape(value, { jobs: 'array' }, 'jobs response');
  const jobs = (value as { jobs: unknown[] }).jobs;
  jobs.forEach((job, index) => {
    assertShape(job, JOB_RUN, `jobs[${index}]`);
    assert.ok(['success', 'failure', 'skipped'].includes((job as JobRunJson).outcome));
    for (const field of Object.values((job as JobRunJson).summary)) assert.ok(['string', 'number', 'boolean'].includes(typeof field), 'summary values are scalars');
  });
  return jobs as JobRunJson[];
}

export function assertRepositories(value: unknown): RepositoryRecord[] {
  assertShape(value, { repositories: 'array' }, 'repositories response');
  const repositories = (value as { repositories: unknown[] }).repositories;
  repositories.forEach((repository, index) => assertShape(repository, REPOSITORY, `repositories[${index}]`));
  return repositories as RepositoryRecord[];
}
