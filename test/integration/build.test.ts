import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { cleanup, tempDir } from '../helpers/porthole-process.js';

// dist/test/integration -> the checkout.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `npm run build` in `dir`, as `npm start` and `npm test` run it. */
function build(dir: string): void {
  const result = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(result.status, 0, `npm run build failed: ${result.stdout}${result.stderr}`);
}

/**
 * A project built by this checkout's build script and tsconfig, with one source file: what the
 * build does with it is what it does with porthole's, in a fraction of the time, and without
 * touching the dist/ the tests run from.
 */
async function smallProject(): Promise<string> {
  const dir = await tempDir('build');
  await copyFile(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  await copyFile(join(REPO_ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src', 'greeting.ts'), "export const greeting = 'hello';\n");
  // The web dashboard's part of the build: its own tsconfig and the script that adds its files.
  await mkdir(join(dir, 'src', 'ui', 'web'), { recursive: true });
  await copyFile(join(REPO_ROOT, 'src', 'ui', 'web', 'tsconfig.json'), join(dir, 'src', 'ui', 'web', 'tsconfig.json'));
  await writeFile(join(dir, 'src', 'ui', 'web', 'page.ts'), "export const title = 'porthole';\n");
  await mkdir(join(dir, 'scripts'));
  await copyFile(join(REPO_ROOT, 'scripts', 'build-ui.mjs'), join(dir, 'scripts', 'build-ui.mjs'));
  return dir;
}

describe('npm run build (run by npm start and npm test)', () => {
  it('compiles nothing when nothing changed since the last build, and what changed when it did', async () => {
    const dir = await smallProject();
    const output = join(dir, 'dist', 'src', 'greeting.js');
    try {
      build(dir);
      assert.match(await readFile(output, 'utf8'), /hello/);
      assert.match(await readFile(join(dir, 'dist', 'src', 'ui', 'web', 'page.js'), 'utf8'), /porthole/, 'the browser code is built too');
      // Marks the output: a build that compiles again rewrites it.
      await writeFile(output, '// left alone\n');
      build(dir);
      assert.equal(await readFile(output, 'utf8'), '// left alone\n', 'a build with nothing changed compiled again');

      await writeFile(join(dir, 'src', 'greeting.ts'), "export const greeting = 'bonjour';\n");
      // Dated ahead, so that no timestamp granularity can make it look older than the last build.
      const later = new Date(Date.now() + 60_000);
      await utimes(join(dir, 'src', 'greeting.ts'), later, later);
      build(dir);
      assert.match(await readFile(output, 'utf8'), /bonjour/);
    } finally {
      await cleanup(dir);
    }
  });
});
