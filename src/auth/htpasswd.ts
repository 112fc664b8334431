import { hash as digestOf, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { asConfigError } from '../config/configured-file.js';
import type { PortholeLogger } from '../observability/logger.js';
import { watchFileChanges } from '../runtime/file-changes.js';

/** A bcrypt hash as `htpasswd -B` writes it ($2y$), or as other tools do ($2a$, $2b$). */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** Remembered verifications at most: past it the memory starts again (each costs one bcrypt). */
const MAX_REMEMBERED = 10_000;

interface Table {
  users: Map<string, string>;
  /** Compared against for unknown users, at the file's highest cost, so that timing does not tell who exists. */
  decoy: string;
}

/** The users of an htpasswd file; a line that is not a bcrypt entry is refused, naming the file and line. */
export function parseHtpasswd(text: string, path: string): Map<string, string> {
  const users = new Map<string, string>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon > 0 ? line.slice(0, colon) : '';
    const hash = line.slice(colon + 1);
    if (user === '') problems.push(`${path}:${index + 1}: not a "user:hash" line`);
    else if (!BCRYPT.test(hash)) problems.push(`${path}:${index + 1}: the password of "${user}" is not a bcrypt hash (porthole takes only bcrypt entries, as htpasswd -B writes them)`);
    else users.set(user, hash);
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return users;
}

function tableOf(users: Map<string, string>): Table {
  const cost = Math.max(4, ...[...users.values()].map((hash) => Number(BCRYPT.exec(hash)?.[1] ?? 4)));
  return { users, decoy: bcrypt.hashSync(randomBytes(16).toString('hex'), cost) };
}

function loadTable(path: string): Table {
  return tableOf(parseHtpasswd(readFileSync(path, 'utf8'), path));
}

/** What `porthole verify` checks of the file: that it exists and holds only bcrypt entries. */
export function checkHtpasswdFile(path: string, key: string): void {
  asConfigError(key, path, () => parseHtpasswd(readFileSync(path, 'utf8'), path));
}

/**
 * Users and bcrypt hashes from an htpasswd file, re-read when it changes (a user added with
 * `htpasswd -B` works without a restart; a file that no longer parses keeps the last good
 * table, and says so). A verified user and password is remembered for `cacheTtlMs`, keyed by
 * a hash of both, never the password itself; any change of the file forgets them all.
 */
export class HtpasswdUsers {
  private table: Table;
  private readonly verified = new Map<string, number>();
  private readonly unwatch: () => void;

  private constructor(
    private readonly path: string,
    private readonly cacheTtlMs: number,
    private readonly log: PortholeLogger,
  ) {
    this.table = loadTable(path);
    this.unwatch = watchFileChanges(path, () => this.reload());
  }

  /** The file as configured at `key`; a missing or unusable file is a config error naming the key. */
  static open(path: string, key: string, cacheTtlMs: number, log: PortholeLogger): HtpasswdUsers {
    return asConfigError(key, path, () => new HtpasswdUsers(path, cacheTtlMs, log));
  }

  get size(): number {
    return this.table.users.size;
  }

  /** Whether `password` is `user`'s. Unknown users cost a bcrypt comparison too. */
  async verify(user: string, password: string): Promise<boolean> {
    // One-shot hashing: this runs on every authenticated request (the cache hit is the usual case).
    const key = digestOf('sha256', `${user}\0${password}`, 'base64');
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return true;
    const { users, decoy } = this.table;
    const hash = users.get(user);
    const matched = await bcrypt.compare(password, hash ?? decoy);
    if (!matched || hash === undefined || this.table.users !== users) return false;
    if (this.verified.size >= MAX_REMEMBERED) this.verified.clear();
    this.verified.set(key, Date.now() + this.cacheTtlMs);
    return true;
  }

  private reload(): void {
    try {
      this.table = loadTable(this.path);
      this.verified.clear();
      this.log.info({ path: this.path, users: this.table.users.size }, 'htpasswd file re-read');
    } catch (err) {
      this.log.error({ path: this.path, err: (err as Error).message }, 'htpasswd file changed but could not be read; the users read before stay in force');
    }
  }

  close(): void {
    this.unwatch();
  }
}
