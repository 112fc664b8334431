import { appendFileSync } from 'node:fs';
import type { InitializeHook, ResolveHook } from 'node:module';

/**
 * The ESM half of module-watch.ts: Node's resolve hook (registered with `module.register()`, run
 * on the loader's own thread) appends one JSON line to the watch file for every `import` that
 * resolves to an OpenTelemetry package. porthole's tracing code imports the SDK this way.
 */

let watchFile: string | undefined;

export const initialize: InitializeHook<{ file: string }> = (data) => {
  watchFile = data.file;
};

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const resolved = await nextResolve(specifier, context);
  if (watchFile !== undefined && resolved.url.includes('/@opentelemetry/')) {
    appendFileSync(watchFile, `${JSON.stringify({ loader: 'esm', module: resolved.url, parent: context.parentURL ?? null })}\n`);
  }
  return resolved;
};
