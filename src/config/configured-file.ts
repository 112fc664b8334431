import { ConfigError } from './load.js';

/**
 * `work` on a file the configuration names at `key` (an htpasswd file, a signing key, a
 * certificate bundle): a missing file, or one `work` cannot use, is a config error naming the
 * key, as at start-up and in `porthole verify`.
 */
export function asConfigError<T>(key: string, path: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${path} does not exist` : (err as Error).message;
    throw new ConfigError([`${key}: ${reason}`]);
  }
}
