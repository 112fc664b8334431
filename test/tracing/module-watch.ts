import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

/**
 * Preloaded into a porthole process with `--import` (through NODE_OPTIONS), it writes to the file
 * named by PORTHOLE_TEST_MODULE_WATCH one JSON line per OpenTelemetry module resolved, so that a
 * test can tell which of them porthole loaded, and who asked for each:
 *   - ESM imports, through a resolve hook registered with `module.register()` (module-watch-hooks.ts);
 *   - CommonJS `require()` calls, which Node 20 does not pass through those hooks (prom-client
 *     requires @opentelemetry/api that way), through the CommonJS loader's own resolution.
 * Each line: { loader: 'esm' | 'cjs', module: URL or path, parent: the importer or requirer }.
 */

export interface WatchedModule {
  loader: 'esm' | 'cjs';
  module: string;
  parent: string | null;
}

const watchFile = process.env.PORTHOLE_TEST_MODULE_WATCH;

/** The CommonJS loader's resolution, which every require() goes through; not in Node's typings. */
interface CommonJsLoader {
  _resolveFilename(request: string, parent: { filename?: string | null } | undefined, ...rest: unknown[]): string;
}

if (watchFile !== undefined && watchFile !== '') {
  const file = watchFile;
  register(new URL('./module-watch-hooks.js', import.meta.url), { data: { file } });
  const loader = Module as unknown as CommonJsLoader;
  const resolveFilename = loader._resolveFilename;
  loader._resolveFilename = function watchedResolve(this: unknown, request, parent, ...rest) {
    const resolved = resolveFilename.call(this, request, parent, ...rest);
    if (resolved.includes('/@opentelemetry/')) {
      const line: WatchedModule = { loader: 'cjs', module: resolved, parent: parent?.filename ?? null };
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    }
    return resolved;
  };
}
