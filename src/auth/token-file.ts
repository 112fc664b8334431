import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/load.js';
import { readSecretFile, secretFileProblem } from '../config/secret-file.js';
import type { PortholeLogger } from '../observability/logger.js';
import { watchFileChanges } from '../runtime/file-changes.js';

/**
 * The SHA-256 of a token: what is kept and compared. Both sides of the comparison then have the
 * same length (timingSafeEqual needs it, and comparing lengths first would tell them), and the
 * token itself is not held in memory once read.
 */
function digestOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of the file configured at `key`; a file that cannot be read, or is empty, is a config error naming the key. */
function readConfiguredToken(path: string, key: string): string {
  try {
    return readSecretFile(path);
  } catch (err) {
    throw new ConfigError([`${key}: ${secretFileProblem(path, err)}`]);
  }
}

/** What `porthole verify` checks of the file: that it can be read and holds a token. */
export function checkTokenFile(path: string, key: string): void {
  readConfiguredToken(path, key);
}

/**
 * A bearer token kept in a file (extensions.metrics.auth.bearerTokenFile), compared in constant
 * time. The file is re-read when it changes, so that a token is rotated without a restart; a file
 * that changes into something unusable (removed, empty) leaves the token read before in force,
 * and the log says so, as for the htpasswd file.
 */
export class TokenFile {
  private readonly unwatch: () => void;

  private constructor(
    private readonly path: string,
    private digest: Buffer,
    private readonly log: PortholeLogger,
  ) {
    this.unwatch = watchFileChanges(path, () => this.reload());
  }

  /** The file configured at `key`; one that cannot be read, or is empty, is a config error naming the key. */
  static open(path: string, key: string, log: PortholeLogger): TokenFile {
    return new TokenFile(path, digestOf(readConfiguredToken(path, key)), log);
  }

  /** Whether `token` is the file's, in time that does not depend on how much of it matches. */
  matches(token: string): boolean {
    return timingSafeEqual(digestOf(token), this.digest);
  }

  private reload(): void {
    try {
      this.digest = digestOf(readSecretFile(this.path));
      this.log.info({ path: this.path }, 'token file re-read');
    } catch (err) {
      this.log.error({ path: this.path, err: secretFileProblem(this.path, err) }, 'token file changed but could not be read; the token read before stays in force');
    }
  }

  close(): void {
    this.unwatch();
  }
}
