import type { PortholeLogger } from '../observability/logger.js';
import type { Driver } from '../storage/driver.js';
import { layout } from '../storage/layout.js';
import type { ReplicaRecord } from './api-types.js';
import { parseReplicaFile, type ReplicaFile } from './replica-file.js';

/** A replica silent this long is gone (killed, host down): its record is removed by whoever lists. */
export const REPLICA_GONE_MS = 60 * 60_000;
/** Healthy: a heartbeat within this many of its writer's intervals. */
export const HEALTHY_INTERVALS = 3;

const RECORD_NAME = /^[A-Za-z0-9_-]{1,64}\.json$/;

/** A stored heartbeat as the API shows it at `nowMs`. */
export function replicaRecord(file: ReplicaFile, nowMs: number): ReplicaRecord {
  const silentMs = nowMs - Date.parse(file.lastHeartbeat);
  return {
    id: file.id,
    address: file.address,
    version: file.version,
    startedAt: file.startedAt,
    inFlight: file.inFlight,
    lastHeartbeat: file.lastHeartbeat,
    healthy: silentMs <= HEALTHY_INTERVALS * file.heartbeatSeconds * 1000,
  };
}

/**
 * Every replica with a heartbeat in the storage, by id, with whether it is healthy now. Records
 * silent for REPLICA_GONE_MS, and files that are no record and as old, are removed as they are
 * met: no process is in charge of the others' records, and a killed one cannot remove its own.
 */
export async function listReplicas(driver: Driver, log: PortholeLogger, nowMs = Date.now()): Promise<ReplicaRecord[]> {
  const replicas: ReplicaRecord[] = [];
  for (const name of await driver.list(layout.replicasDir())) {
    if (!RECORD_NAME.test(name)) continue;
    const path = `${layout.replicasDir()}/${name}`;
    const bytes = await driver.read(path);
    // Removed since the listing: a clean shutdown.
    if (bytes === undefined) continue;
    const file = parseReplicaFile(bytes);
    const lastMs = file === undefined ? (await driver.stat(path))?.modifiedMs : Date.parse(file.lastHeartbeat);
    if (lastMs !== undefined && nowMs - lastMs > REPLICA_GONE_MS) {
      await driver.remove(path);
      log.info({ replica: file?.id ?? name, lastHeartbeat: new Date(lastMs).toISOString() }, 'the record of a replica silent for an hour was removed');
      continue;
    }
    if (file !== undefined) replicas.push(replicaRecord(file, nowMs));
  }
  return replicas.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
