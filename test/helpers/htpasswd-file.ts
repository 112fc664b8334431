import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Adds users (or changes their passwords) in an htpasswd file with Apache's own `htpasswd`
 * (apache2-utils): bcrypt (-B), the password on the command line (-b), no shell. `create` starts
 * a new file with the first of them (-c).
 */
export async function addHtpasswdUsers(file: string, users: Record<string, string>, options: { create?: boolean } = {}): Promise<void> {
  let create = options.create === true;
  for (const [user, password] of Object.entries(users)) {
    await run('htpasswd', [create ? '-cbB' : '-bB', file, user, password], { timeout: 10_000 });
    create = false;
  }
}
