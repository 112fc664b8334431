import { hostname } from 'node:os';
import type { PortholeConfig } from './schema.js';

/**
 * This replica's name: replicaId when set, else the host's name and the HTTP port, so that two
 * replicas on one host differ. A port of 0 (chosen at bind) is not known yet when logs, metrics
 * and spans are named, so such a replica is named by its process id instead.
 */
export function replicaIdOf(config: Pick<PortholeConfig, 'replicaId' | 'http'>): string {
  if (config.replicaId !== undefined) return config.replicaId;
  return config.http.port === 0 ? `${hostname()}:pid${process.pid}` : `${hostname()}:${config.http.port}`;
}
