import type { Flights } from '../coordination/flights.js';
import type { SharedValues } from '../coordination/shared-values.js';
import type { ProxyConfig } from '../config/proxy-schema.js';
import { durationMs } from '../config/durations.js';
import type { PortholeLogger } from '../observability/logger.js';
import type { Tracing } from '../observability/tracing/tracing.js';
import type { LocalCache } from '../storage/local-cache.js';
import type { NameUse } from '../http/request-action.js';
import { Namespaces } from './namespaces.js';
import { PullThroughStore } from './pull-through-store.js';
import { Upstream, type UpstreamObserver } from './upstream.js';

/** The pull-through cache, assembled: the store decorator, the name mapping the API needs, and shutdown. */
export interface PullThrough {
  store: PullThroughStore;
  /** The storage name of a request's repository, given its `?ns=` (null when absent). */
  storageName(name: string, ns: string | null, use: NameUse): Promise<string>;
  close(): Promise<void>;
}

/** Throws ConfigError (naming the key) when an upstream's credentials or TLS files cannot be used. */
/** What the replicas of a store share for the pull-through cache; absent: one process alone. */
export interface SharedPullThrough {
  flights: Flights;
  tokens: SharedValues;
}

export function buildPullThrough(config: ProxyConfig, local: LocalCache, observer: UpstreamObserver, tracing: Tracing, log: PortholeLogger, shared?: SharedPullThrough): PullThrough {
  const upstreams = config.upstreams.map((upstream, index) => new Upstream(upstream, `proxy.upstreams.${index}`, observer, log, shared?.tokens));
  const namespaces = new Namespaces(upstreams, config.defaultNamespace);
  const store = new PullThroughStore(
    local,
    namespaces,
    { airGapped: config.airGapped, alwaysPullLatest: config.alwaysPullLatest, tagTtlMs: durationMs(config.tagTtl) },
    tracing,
    log,
    shared?.flights,
  );
  return {
    store,
    storageName: (name, ns, use) => namespaces.storageName(name, ns, use, (hosted) => local.repositoryExists(hosted)),
    async close() {
      await store.close();
      await Promise.all(upstreams.map((upstream) => upstream.close()));
      await store.backgroundSettled();
    },
  };
}
