import type { FastifyRequest } from 'fastify';
import { queryOf } from '../http/request-url.js';
import type { JobRunRecord } from '../jobs/job-history.js';
import type { JobRunRecords } from '../jobs/run-records.js';
import { parseCount } from '../registry/pagination.js';
import type { JobRunJson, JobsResponse } from './api-types.js';

export const DEFAULT_JOB_LIMIT = 100;
/** As many as the storage keeps (run-records.ts). */
export const MAX_JOB_LIMIT = 1000;

/** A stored run as the API shows it: the contract's fields only (not whether its metrics were pushed). */
function runJson(record: JobRunRecord): JobRunJson {
  const json: JobRunJson = {
    action: record.action,
    trigger: record.trigger,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    seconds: record.seconds,
    outcome: record.outcome,
    summary: record.summary,
  };
  if (record.error !== undefined) json.error = record.error;
  return json;
}

/**
 * GET /api/v1/jobs?limit=N: the newest runs first, from the records every porthole on the
 * storage writes (serve's scheduled runs and the CLI's alike), not from this process's memory.
 */
export async function recentJobs(records: JobRunRecords, request: FastifyRequest): Promise<JobsResponse> {
  const limit = parseCount(queryOf(request).get('limit'), 'limit', DEFAULT_JOB_LIMIT, { max: MAX_JOB_LIMIT, code: 'PAGINATION_NUMBER_INVALID' }) as number;
  return { jobs: (await records.list(limit)).map(runJson) };
}
