/**
 * The parts of the management API's JSON the dashboard reads. Declared once for the server in
 * src/management/api-types.ts (outside this browser build); the end-to-end tests render real
 * answers through these, so a change there that breaks the page fails them.
 */

export interface Summary {
  repositories: number;
  tags: number;
  manifests: number;
  blobs: number;
  bytesStored: number;
  garbageBytes: number | null;
  uploadsInProgress: number;
  uptimeSeconds: number;
  version: string;
  mode: 'hosted' | 'cache';
  computedAt: string;
}

export interface RepositoryRecord {
  name: string;
  tags: number;
  sizeBytes: number;
  lastPush: string | null;
  lastPull: string | null;
}

export interface JobRun {
  action: string;
  trigger: string;
  startedAt: string;
  endedAt: string;
  seconds: number;
  outcome: 'success' | 'failure' | 'skipped';
  summary: Record<string, string | number | boolean>;
  error?: string;
}

export type Column = Array<number | null>;

export interface Series {
  intervalSeconds: number;
  capacity: number;
  mode: 'full' | 'minimal';
  collecting: boolean;
  series: {
    time: number[];
    requestsPerSecond: Column;
    serverErrorsPerSecond: Column;
    latencyP50Seconds: Column;
    latencyP90Seconds: Column;
    latencyP99Seconds: Column;
    manifestPullsPerSecond: Column;
    blobPullsPerSecond: Column;
    pushesPerSecond: Column;
    cacheHitRatio: Column;
    bytesStored: Column;
  };
}
