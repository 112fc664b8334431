// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, then the
// storage-independent suites (the spec, bad input, skopeo and podman) a second time with every
// porthole on S3: against an s3rver started here (test/helpers/test-storage.ts).
// Node 20's --test takes no globs, so the files are listed here. Arguments filter by path part;
// PORTHOLE_TEST_PASSES=filesystem or =s3 runs one pass only.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The suites that hold for any storage, run again on S3. */
const ON_S3 = ['dist/test/spec/', 'dist/test/bad-input/', 'dist/test/e2e/skopeo.test.js', 'dist/test/e2e/podman.test.js'];

function walk(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.test.js') ? [path] : [];
  });
}

function runTests(files, env = {}) {
  const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=600000', ...files], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return result.status ?? 1;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** An s3rver for the S3 pass; resolves with its endpoint and a stop function. */
async function startS3rver() {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-s3rver-'));
  const port = await freePort();
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const child = spawn(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets'], { stdio: 'inherit' });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(endpoint);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('s3rver did not start within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    endpoint,
    stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const filters = process.argv.slice(2);
const files = walk('dist/test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const passes = process.env.PORTHOLE_TEST_PASSES ?? 'filesystem,s3';
let status = 0;
if (passes.includes('filesystem')) status = runTests(files);
const onS3 = files.filter((file) => ON_S3.some((part) => file.startsWith(part)));
if (passes.includes('s3') && onS3.length > 0) {
  console.log(`\n# the same suites with porthole on S3 (s3rver): ${onS3.length} files\n`);
  const s3 = await startS3rver();
  try {
    status = runTests(onS3, { PORTHOLE_TEST_STORAGE: 's3', PORTHOLE_TEST_S3_ENDPOINT: s3.endpoint }) || status;
  } finally {
    s3.stop();
  }
}
process.exit(status);
