// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, then the
// storage-independent suites (the spec, bad input, skopeo and podman) a second time with every
// porthole on S3 and Redis: an s3rver and a redis-server started here (test/helpers/test-storage.ts).
// Node 20's --test takes no globs, so the files are listed here. Arguments filter by path part;
// PORTHOLE_TEST_PASSES=filesystem or =s3 runs one pass only.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
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

/** Waits (bounded) until `ready` resolves true; fails when the child exits first. */
async function waitUntil(what, child, ready) {
  const deadline = Date.now() + 20_000;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not start within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An s3rver for the S3 pass; resolves with its endpoint and a stop function. */
async function startS3rver() {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-s3rver-'));
  const port = await freePort();
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const child = spawn(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets'], { stdio: 'inherit' });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntil('s3rver', child, () => fetch(endpoint).then(() => true));
  return {
    endpoint,
    stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A redis-server for the S3 pass, keeping nothing on disk; undefined when there is none here (outside CI). */
async function startRedis() {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    if (process.env.CI === 'true') throw new Error('redis-server is missing: .ci/run installs it');
    console.log('# redis-server is missing: the S3 pass runs each porthole as its bucket\'s single replica');
    return undefined;
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitUntil('redis-server', child, () => new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  }));
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
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
  console.log(`\n# the same suites with porthole on S3 (s3rver) and Redis: ${onS3.length} files\n`);
  const s3 = await startS3rver();
  const redis = await startRedis();
  try {
    status = runTests(onS3, { PORTHOLE_TEST_STORAGE: 's3', PORTHOLE_TEST_S3_ENDPOINT: s3.endpoint, ...(redis ? { PORTHOLE_TEST_REDIS_URL: redis.url } : {}) }) || status;
  } finally {
    s3.stop();
    redis?.stop();
  }
}
process.exit(status);
