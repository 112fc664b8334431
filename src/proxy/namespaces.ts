import type { ProxyConfig } from '../config/proxy-schema.js';
import { isValidName } from '../core/names.js';
import type { NameUse } from '../http/request-action.js';

/**
 * Where a namespace's cached content lives in storage: under a repository prefix named after it.
 * Repository names cannot hold ':', so a port is written with '_' (`localhost:5001` is kept
 * under `localhost_5001/`); either spelling finds the namespace in a path.
 */
export function storagePrefix(namespace: string): string {
  return namespace.replace(':', '_');
}

/** A repository name, in storage terms, that belongs to an upstream. */
export interface ProxiedName<U> {
  upstream: U;
  /** The repository's name upstream (`library/nginx`). */
  remote: string;
}

/**
 * Maps a request's repository name onto storage, and storage names back onto their upstream.
 * A request names a namespace by `?ns=<namespace>` (containerd's mirror requests) or by its
 * first path component (`docker.io/library/nginx`); a pull of a name that has neither, and no
 * hosted repository, goes to defaultNamespace when one is set.
 */
export class Namespaces<U extends { name: string }> {
  private readonly byPrefix = new Map<string, U>();
  private readonly byName = new Map<string, U>();
  private readonly fallback: U | undefined;

  constructor(upstreams: U[], defaultNamespace: ProxyConfig['defaultNamespace']) {
    for (const upstream of upstreams) {
      this.byName.set(upstream.name, upstream);
      this.byPrefix.set(storagePrefix(upstream.name), upstream);
    }
    this.fallback = defaultNamespace === null ? undefined : this.byName.get(defaultNamespace);
  }

  /**
   * The storage name of a request's repository. `isHosted` is asked only when the default
   * namespace could apply, so requests that name their namespace cost nothing extra.
   */
  async storageName(name: string, ns: string | null, use: NameUse, isHosted: (name: string) => Promise<boolean>): Promise<string> {
    if (ns !== null) {
      const upstream = this.byName.get(ns);
      // containerd sends ns for every mirrored request; one that names no upstream is hosted content.
      if (upstream && !this.owns(name)) return `${storagePrefix(upstream.name)}/${name}`;
    }
    const slash = name.indexOf('/');
    const first = slash === -1 ? name : name.slice(0, slash);
    const named = this.byName.get(first);
    if (named && slash !== -1) return `${storagePrefix(named.name)}${name.slice(slash)}`;
    // Only a valid name is looked up on disk; an invalid one fails validation as it is.
    if (this.fallback && use === 'pull' && isValidName(name) && !this.owns(name) && !(await isHosted(name))) {
      return `${storagePrefix(this.fallback.name)}/${name}`;
    }
    return name;
  }

  /** The upstream a storage name belongs to, with the name it has there; undefined for hosted names. */
  upstreamOf(storageName: string): ProxiedName<U> | undefined {
    const slash = storageName.indexOf('/');
    if (slash === -1) return undefined;
    const upstream = this.byPrefix.get(storageName.slice(0, slash));
    return upstream ? { upstream, remote: storageName.slice(slash + 1) } : undefined;
  }

  private owns(name: string): boolean {
    return this.upstreamOf(name) !== undefined;
  }
}

/** Whether a storage name belongs to one of the configured upstreams' namespaces (for pruning). */
export function cachedRepositories(config: Pick<ProxyConfig, 'upstreams' | 'defaultNamespace'>): (repo: string) => boolean {
  const namespaces = new Namespaces(config.upstreams, config.defaultNamespace);
  return (repo) => namespaces.upstreamOf(repo) !== undefined;
}
