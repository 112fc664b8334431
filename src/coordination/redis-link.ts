import { Redis } from 'ioredis';
import { RegistryError } from '../core/errors.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { RedisConfig } from '../config/redis-schema.js';

/** How long a command may wait for an answer before it counts as Redis being down. */
const COMMAND_TIMEOUT_MS = 2_000;
/** Reconnection attempts back off up to this. */
const MAX_RECONNECT_DELAY_MS = 2_000;

/** The URL without its password, for messages and logs. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/**
 * The connection to Redis that every shared piece of state goes through. Commands never queue
 * while Redis is away (they fail at once, so a push is told 503 instead of hanging), and the
 * client reconnects in the background; `available()` says whether Redis answers now. An outage
 * is logged once when it starts and once when it ends.
 */
export class RedisLink {
  readonly client: Redis;
  readonly where: string;
  private up = false;
  private downLogged = false;
  private readonly listeners = new Set<(up: boolean) => void>();

  constructor(
    config: RedisConfig,
    private readonly log: PortholeLogger,
  ) {
    this.where = redactedUrl(config.url);
    const password = new URL(config.url).password === '' ? process.env.REDIS_PASSWORD : undefined;
    this.client = new Redis(config.url, {
      keyPrefix: config.keyPrefix,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: COMMAND_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS),
      ...(password ? { password } : {}),
    });
    this.client.on('ready', () => this.changed(true));
    this.client.on('close', () => this.changed(false));
    // Errors reach the commands that failed; the event only needs a listener (or node throws).
    this.client.on('error', () => undefined);
  }

  /** Connects; resolves either way (porthole serves reads without Redis), saying whether it is up. */
  async connect(): Promise<boolean> {
    try {
      await this.client.connect();
    } catch {
      this.changed(false);
    }
    return this.up;
  }

  available(): boolean {
    return this.up;
  }

  /** Hears every change between up and down. */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What a write that needs Redis is told while it is away: 503, and why. */
  unavailable(): RegistryError {
    return new RegistryError('UNAVAILABLE', `redis at ${this.where} is unreachable: pushes and deletions are refused until it is back; pulls of stored content go on`);
  }

  /** Runs a command, turning a Redis failure into `unavailable()`. */
  async run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    if (!this.up) throw this.unavailable();
    try {
      return await command(this.client);
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      this.log.warn({ err, redis: this.where }, 'a redis command failed');
      throw this.unavailable();
    }
  }

  /**
   * Work that can do without Redis (a shared cache, single flight, a counter kept per replica
   * meanwhile): `fallback` while Redis is away or when the work fails.
   */
  async attempt<T>(work: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> {
    if (!this.up) return fallback();
    try {
      return await work();
    } catch {
      return fallback();
    }
  }

  private changed(up: boolean): void {
    if (up === this.up && (up || this.downLogged)) return;
    this.up = up;
    if (up) {
      if (this.downLogged) this.log.info({ redis: this.where }, 'redis is reachable again');
      this.downLogged = false;
    } else if (!this.downLogged) {
      this.downLogged = true;
      this.log.error({ redis: this.where }, 'redis is unreachable: pushes and deletions are refused until it is back');
    }
    for (const listener of this.listeners) listener(up);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.client.disconnect();
  }
}
