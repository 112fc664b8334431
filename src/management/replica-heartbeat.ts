import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { PortholeLogger } from '../observability/logger.js';
import { startPeriodic } from '../periodic.js';
import type { Driver } from '../storage/driver.js';
import { layout } from '../storage/layout.js';
import type { ReplicaFile } from './replica-file.js';

export interface HeartbeatDeps {
  /** This replica's name (config/replica-id.ts). */
  id: string;
  driver: Driver;
  intervalMs: number;
  version: string;
  /** Requests being served now. */
  inFlight: () => number;
  /** Where it serves before it listens (http.address:http.port); replaced by the bound address once it does. */
  address: string;
  log: PortholeLogger;
}

/** host:port of a bound listener; an unspecified address (0.0.0.0, ::) is the host's name, which others can reach. */
export function listenerAddress(bound: AddressInfo): string {
  if (bound.address === '0.0.0.0' || bound.address === '::') return `${hostname()}:${bound.port}`;
  return bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
}

/**
 * This process's record among the replicas on the storage (`replicas/<id>.json`): written
 * atomically, through the Driver (any driver: a later issue puts several replicas on S3), at
 * start and every storage.heartbeatInterval, removed at a clean shutdown. The id is the replica's
 * name (replicaId, or host and port): a restarted replica takes its record over.
 */
export class ReplicaHeartbeat {
  readonly id: string;
  readonly startedAtMs = Date.now();
  private address: string;
  private lastWritten: ReplicaFile | undefined;
  private beating: Promise<void> | undefined;
  private stopTimer: (() => void) | undefined;
  private stopped = false;
  private failing = false;

  constructor(private readonly deps: HeartbeatDeps) {
    this.address = deps.address;
    this.id = deps.id;
  }

  /** The last record written (or tried); undefined before the first beat. */
  get record(): ReplicaFile | undefined {
    return this.lastWritten;
  }

  /** Writes the first record now and then one every interval. */
  async start(): Promise<void> {
    await this.beat();
    this.stopTimer = startPeriodic(this.deps.intervalMs, () => this.beat(), () => undefined);
  }

  /** The listener is bound: the record names the address it really serves on, at once. */
  listening(bound: AddressInfo): Promise<void> {
    this.address = listenerAddress(bound);
    return this.beat();
  }

  /** One heartbeat; a failure is logged once per outage and never thrown (the next beat tries again). */
  beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    // Never two writes at once: the one in progress is the beat.
    this.beating ??= this.write().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async write(): Promise<void> {
    const { driver, intervalMs, version, inFlight, log } = this.deps;
    const record: ReplicaFile = {
      id: this.id,
      address: this.address,
      version,
      startedAt: new Date(this.startedAtMs).toISOString(),
      inFlight: inFlight(),
      lastHeartbeat: new Date().toISOString(),
      heartbeatSeconds: intervalMs / 1000,
    };
    try {
      // Not durable: a heartbeat lost in a crash is one that would be stale anyway.
      await driver.writeAtomic(layout.replica(this.id), JSON.stringify(record), { durable: false });
      this.lastWritten = record;
      if (this.failing) log.info({ replica: this.id }, 'replica heartbeat written again');
      this.failing = false;
    } catch (err) {
      this.lastWritten ??= { ...record, lastHeartbeat: new Date(this.startedAtMs).toISOString() };
      if (!this.failing) log.warn({ err, replica: this.id }, 'replica heartbeat could not be written to the storage; this replica will look unhealthy to the others');
      this.failing = true;
    }
  }

  /** Clean shutdown: no more beats, and the record goes (after a beat in progress, which would write it again). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer?.();
    await this.beating;
    await this.deps.driver.remove(layout.replica(this.id)).catch((err: unknown) => this.deps.log.warn({ err, replica: this.id }, 'replica heartbeat could not be removed; it ages out'));
  }
}
