import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { cleanup, tempDir } from '../helpers/porthole-process.js';
import { runCli } from '../helpers/run-cli.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { addHtpasswdUsers } from '../helpers/htpasswd-file.js';

/** `porthole passwd`, checked by Apache's own `htpasswd -v`: what porthole writes, Apache accepts. */

const run = promisify(execFile);

async function apacheAccepts(file: string, user: string, password: string): Promise<boolean> {
  return run('htpasswd', ['-vb', file, user, password]).then(
    () => true,
    () => false,
  );
}

describe('porthole passwd', { skip: skipUnlessTools('htpasswd'), timeout: 60_000 }, () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('passwd');
  });
  after(() => cleanup(dir));

  test('creates the file (0600), adds users, changes a password in place; Apache verifies every entry', async () => {
    const file = join(dir, 'htpasswd');
    const added = await runCli(['passwd', file, 'alice', '--cost', '5'], { input: 'first secret\n' });
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stderr, /added alice/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await addHtpasswdUsers(file, { bob: 'bobs' });
    assert.equal((await runCli(['passwd', file, 'carol', '--cost', '5'], { input: 'carols' })).code, 0);
    const changed = await runCli(['passwd', file, 'alice', '--cost', '5'], { input: 'second secret\r\nignored line\n' });
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stderr, /changed the password of alice/);
    assert.ok(await apacheAccepts(file, 'alice', 'second secret'));
    assert.ok(!(await apacheAccepts(file, 'alice', 'first secret')));
    assert.ok(await apacheAccepts(file, 'bob', 'bobs'), "bob's line, written by Apache, is kept");
    assert.ok(await apacheAccepts(file, 'carol', 'carols'));
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    assert.deepEqual(lines.map((line) => line.split(':')[0]), ['alice', 'bob', 'carol'], 'alice changed in place, one line each');
    assert.ok(lines.every((line) => /^[a-z]+:\$2[aby]\$\d\d\$/.test(line)), 'bcrypt entries');
  });

  test('refuses an empty password, a name with a colon, a cost out of range (exit 2), and writes nothing', async () => {
    const file = join(dir, 'refused');
    assert.equal((await runCli(['passwd', file, 'dave'], { input: '\n' })).code, 2);
    assert.equal((await runCli(['passwd', file, 'da:ve'], { input: 'x\n' })).code, 2);
    assert.equal((await runCli(['passwd', file, 'dave', '--cost', '40'], { input: 'x\n' })).code, 2);
    await assert.rejects(stat(file), /ENOENT/);
  });
});
