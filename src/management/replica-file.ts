import type { ReplicaRecord } from './api-types.js';
import { parseJsonObject } from '../runtime/json-object.js';

/**
 * A heartbeat as it is stored (`replicas/<id>.json`): the API's ReplicaRecord without `healthy`
 * (which the reader judges, at the time it reads), with the writer's own heartbeat interval, so
 * that a replica configured with a longer one is not taken for unhealthy by one with a shorter.
 */
export interface ReplicaFile extends Omit<ReplicaRecord, 'healthy'> {
  heartbeatSeconds: number;
}

/** A stored heartbeat, checked field by field; undefined for a file that is not one. */
export function parseReplicaFile(bytes: Buffer): ReplicaFile | undefined {
  const file = parseJsonObject(bytes);
  if (file === undefined) return undefined;
  const strings = ['id', 'address', 'version', 'startedAt', 'lastHeartbeat'].every((key) => typeof file[key] === 'string');
  if (!strings || typeof file.inFlight !== 'number' || typeof file.heartbeatSeconds !== 'number' || !(file.heartbeatSeconds > 0)) return undefined;
  if (!Number.isFinite(Date.parse(file.lastHeartbeat as string))) return undefined;
  return file as unknown as ReplicaFile;
}
