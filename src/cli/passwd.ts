import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { EXIT } from './exit-codes.js';

export interface PasswdOptions {
  /** bcrypt's cost: 2^cost rounds. */
  cost: string;
}



async function readAll(stream: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One line typed at a terminal, not echoed. */
function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const onData = (data: Buffer): void => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish(() => resolve(typed));
        if (char === '\u0003') return finish(() => reject(new Error('interrupted')));
        if (char === '\u007f') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    const finish = (settle: () => void): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      settle();
    };
    input.on('data', onData);
  });
}

/** The password: typed twice at a terminal, or the first line of standard input (for scripts). */
async function newPassword(): Promise<string> {
  if (!process.stdin.isTTY) return (await readAll(process.stdin)).split(/\r?\n/)[0] ?? '';
  const first = await promptHidden('New password: ');
  const again = await promptHidden('Again: ');
  if (first !== again) throw new Error('the two passwords differ');
  return first;
}

/** The file's lines with `user`'s entry replaced, or added at the end. */
function withEntry(text: string, user: string, entry: string): { lines: string[]; replaced: boolean } {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const index = lines.findIndex((line) => line.slice(0, line.indexOf(':')) === user);
  if (index >= 0) lines[index] = entry;
  else lines.push(entry);
  return { lines, replaced: index >= 0 };
}

/**
 * `porthole passwd FILE USER`: adds USER to an htpasswd file, or changes their password, with a
 * bcrypt hash that auth.htpasswd accepts (as `htpasswd -B` does, for machines without Apache's
 * tools). The file is replaced in one rename, so a running porthole never reads half of it, and
 * created with mode 0600.
 */
export async function passwd(file: string, user: string, options: PasswdOptions): Promise<number> {
  const cost = Number(options.cost);
  if (!Number.isInteger(cost) || cost < 4 || cost > 17) {
    process.stderr.write(`porthole passwd: --cost must be a whole number from 4 to 17, not ${options.cost}\n`);
    return EXIT.badConfig;
  }
  if (user === '' || /[:\s]/.test(user)) {
    process.stderr.write('porthole passwd: a user name cannot be empty or hold a colon or white space\n');
    return EXIT.badConfig;
  }
  const password = await newPassword();
  if (password === '') {
    process.stderr.write('porthole passwd: the password is empty\n');
    return EXIT.badConfig;
  }
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const { lines, replaced } = withEntry(existing, user, `${user}:${bcrypt.hashSync(password, cost)}`);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${lines.join('\n')}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
  process.stderr.write(`${replaced ? 'changed the password of' : 'added'} ${user} in ${file}\n`);
  return EXIT.ok;
}
