// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, then the
// storage-independent suites (the spec, bad input, skopeo and podman) a second time with every
// porthole on S3 and Redis: an s3rver and a redis-server started here (test/helpers/test-storage.ts).
// Node 20's --test takes no globs, so the files are listed here. Arguments filter by path part;
// PORTHOLE_TEST_PASSES=filesystem or =s3 runs one pass only.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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

/** A redis-server for the S3 pass (test/helpers/redis-process.ts); undefined when there is none here (outside CI). */
async function redisIfInstalled(startRedis) {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    if (process.env.CI === 'true') throw new Error('redis-server is missing: .ci/run installs it');
    console.log("# redis-server is missing: the S3 pass runs each porthole as its bucket's single replica");
    return undefined;
  }
  return startRedis();
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
  // The tests' own helpers, built beside them, start the servers the pass shares.
  const { startS3rver } = await import('../dist/test/helpers/s3rver-process.js');
  const { startRedis } = await import('../dist/test/helpers/redis-process.js');
  const s3 = await startS3rver();
  const redis = await redisIfInstalled(startRedis);
  try {
    status = runTests(onS3, { PORTHOLE_TEST_STORAGE: 's3', PORTHOLE_TEST_S3_ENDPOINT: s3.endpoint, ...(redis ? { PORTHOLE_TEST_REDIS_URL: redis.url } : {}) }) || status;
  } finally {
    await s3.stop();
    await redis?.stop();
  }
}
process.exit(status);
