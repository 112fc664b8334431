import type { Redis } from 'ioredis';
import type { PortholeLogger } from '../observability/logger.js';
import type { Broadcasts } from '../storage/broadcasts.js';
import type { RedisLink } from './redis-link.js';

/**
 * Broadcasts over Redis publish/subscribe, on a connection of their own (a subscribed connection
 * can do nothing else). Channels carry the key prefix, so registries sharing a Redis do not hear
 * each other. Every time the subscription comes back after being down, the gap listeners are told.
 */
export class RedisBroadcasts implements Broadcasts {
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Array<(message: string) => void>>();
  private readonly gapListeners: Array<() => void> = [];

  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly log: PortholeLogger,
  ) {
    // Subscriptions wait for the connection (even at start-up with Redis away) rather than fail.
    this.subscriber = link.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(message);
    });
    this.subscriber.on('ready', () => {
      // ioredis subscribes again by itself after a reconnection; what was published meanwhile is
      // lost. So is what was published before the first subscription, when Redis was away at
      // start-up and the replica read storage meanwhile: every (re)connection is a gap.
      for (const listener of this.gapListeners) listener();
    });
  }

  async start(): Promise<void> {
    await this.subscriber.connect().catch(() => undefined);
  }

  publish(topic: string, message: string): void {
    if (!this.link.available()) return;
    void this.link.run((client) => client.publish(this.prefix + topic, message)).catch((err: unknown) => this.log.debug({ err, topic }, 'a broadcast to the other replicas was lost'));
  }

  subscribe(topic: string, listener: (message: string) => void): void {
    const channel = this.prefix + topic;
    const known = this.listeners.get(channel);
    if (known) {
      known.push(listener);
      return;
    }
    this.listeners.set(channel, [listener]);
    void this.subscriber.subscribe(channel).catch(() => undefined);
  }

  onGap(listener: () => void): void {
    this.gapListeners.push(listener);
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
