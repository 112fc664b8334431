import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { cleanup, startPorthole, tempDir, type PortholeProcess } from '../helpers/porthole-process.js';
import { raw } from '../helpers/raw-http.js';
import { makeImage, OCI_MANIFEST } from '../helpers/registry-client.js';
import type { WatchedModule } from './module-watch.js';
import { accessLineOf, clientSpan, tracingArgs } from './trace-helpers.js';

/**
 * Tracing off (the default) costs nothing: no OpenTelemetry SDK module is loaded. Two real
 * porthole processes, off and on, each with a module watch preloaded by `--import`
 * (module-watch.ts: a `module.register()` resolve hook for imports, and the CommonJS loader's
 * resolution for require()), take a push and a pull; the watch's record of every OpenTelemetry
 * module resolved is then read. The porthole with --tracing must show the SDK, so that the check
 * of the other one can fail. Its spans go to test/helpers/otlp-receiver.ts, an OTLP/HTTP receiver
 * standing in for Jaeger or the OpenTelemetry collector (no Debian package here).
 *
 * One OpenTelemetry package is loaded whatever porthole does: prom-client, which porthole always
 * loads for its metrics, require()s @opentelemetry/api (the API alone, no SDK) for exemplars of
 * its process CPU counter. The test allows exactly that, and says so when it sees anything else.
 */

const WATCH_SCRIPT = fileURLToPath(new URL('./module-watch.js', import.meta.url));
const TEST_TIMEOUT = 30_000;

/** The OpenTelemetry package a resolved module belongs to (`@opentelemetry/api`), from its path or URL. */
function packageOf(module: string): string {
  const match = /\/node_modules\/(@opentelemetry\/[^/]+)\//.exec(module);
  return match?.[1] ?? module;
}

async function watchedModules(file: string): Promise<WatchedModule[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as WatchedModule);
}

/** Which OpenTelemetry packages were loaded, and by whom from outside them. */
function summary(modules: WatchedModule[]): { packages: string[]; esmImports: string[]; loadedBy: string[] } {
  const outside = modules.filter((watched) => watched.parent === null || !watched.parent.includes('/@opentelemetry/'));
  return {
    packages: [...new Set(modules.map((watched) => packageOf(watched.module)))].sort(),
    esmImports: [...new Set(modules.filter((watched) => watched.loader === 'esm').map((watched) => packageOf(watched.module)))].sort(),
    loadedBy: [...new Set(outside.map((watched) => watched.parent ?? '(entry point)'))].sort(),
  };
}

/** Starts porthole with the module watch preloaded, recording into `file`. */
function watchedPorthole(file: string, args: string[]): Promise<PortholeProcess> {
  const nodeOptions = [process.env.NODE_OPTIONS, `--import ${JSON.stringify(WATCH_SCRIPT)}`].filter((option) => option !== undefined && option !== '').join(' ');
  return startPorthole({ args, env: { NODE_OPTIONS: nodeOptions, PORTHOLE_TEST_MODULE_WATCH: file } });
}

describe('tracing off loads no OpenTelemetry SDK', { timeout: 3 * TEST_TIMEOUT }, () => {
  let work: string;
  let receiver: OtlpReceiver;
  let off: PortholeProcess;
  let on: PortholeProcess;
  const watchOf = (which: 'off' | 'on') => join(work, `${which}-modules.jsonl`);

  before(async () => {
    work = await tempDir('tracing-off');
    receiver = await startOtlpReceiver();
    [off, on] = await Promise.all([watchedPorthole(watchOf('off'), []), watchedPorthole(watchOf('on'), tracingArgs(receiver.url, 1))]);
  });
  after(async () => {
    await Promise.all([off?.stop(), on?.stop()]);
    await receiver?.close();
    await cleanup(...[work, off?.root, on?.root].filter((dir): dir is string => dir !== undefined));
  });

  /** A push and a pull (manifest and blob), the pull with a sampled traceparent; the user agent names the pull's access line. */
  async function pushAndPull(porthole: PortholeProcess, userAgent: string): Promise<{ traceId: string }> {
    const image = await makeImage(porthole.url, 'tracing/off', { tag: 'v1' });
    const client = clientSpan();
    const headers = { traceparent: client.header, 'user-agent': userAgent, accept: OCI_MANIFEST };
    assert.equal((await raw(porthole.url, { path: '/v2/tracing/off/manifests/v1', headers })).status, 200);
    assert.equal((await raw(porthole.url, { path: `/v2/tracing/off/blobs/${image.layerDigest}`, headers: { 'user-agent': `${userAgent}-blob` } })).status, 200);
    return { traceId: client.traceId };
  }

  test('tracing off: after a push and a pull, no OpenTelemetry module but prom-client\'s @opentelemetry/api is loaded, and no trace id is logged', { timeout: TEST_TIMEOUT }, async () => {
    await pushAndPull(off, 'tracing-test/off');
    const loaded = summary(await watchedModules(watchOf('off')));
    assert.deepEqual(loaded.esmImports, [], 'porthole imported no OpenTelemetry module');
    assert.ok(
      loaded.packages.every((name) => name === '@opentelemetry/api'),
      `only @opentelemetry/api, not the SDK nor the exporter: ${loaded.packages.join(', ')}`,
    );
    assert.ok(
      loaded.loadedBy.every((parent) => parent.includes('/node_modules/prom-client/')),
      `only prom-client loads OpenTelemetry code: loaded by ${loaded.loadedBy.join(', ')}`,
    );

    // Even a request with a sampled traceparent: with tracing off, there is no trace to name.
    const line = await accessLineOf(off, (entry) => entry.userAgent === 'tracing-test/off', 'the traced pull');
    assert.equal(line.status, 200);
    assert.ok(!('traceId' in line) && !('spanId' in line), `no trace ids in the access line: ${JSON.stringify(line)}`);
  });

  test('tracing on: the same watch sees OpenTelemetry imported by porthole, so the check above can fail', { timeout: TEST_TIMEOUT }, async () => {
    const { traceId } = await pushAndPull(on, 'tracing-test/on');
    const modules = await watchedModules(watchOf('on'));
    const loaded = summary(modules);
    for (const name of ['@opentelemetry/core', '@opentelemetry/resources', '@opentelemetry/api']) {
      assert.ok(loaded.esmImports.includes(name), `${name} is imported with tracing on: ${loaded.esmImports.join(', ')}`);
    }
    assert.ok(
      modules.some((watched) => watched.loader === 'esm' && packageOf(watched.module) === '@opentelemetry/resources' && watched.parent?.endsWith('/observability/tracing/otel-tracing.js')),
      'porthole\'s otel-tracing.js is what imports OpenTelemetry',
    );
    assert.ok(
      modules.some((watched) => watched.loader === 'cjs' && packageOf(watched.module) === '@opentelemetry/core'),
      'the require() half of the watch sees OpenTelemetry\'s own CommonJS modules too',
    );

    const line = await accessLineOf(on, (entry) => entry.userAgent === 'tracing-test/on', 'the traced pull');
    assert.equal(line.traceId, traceId, 'with tracing on, the same request names its trace');
  });
});
