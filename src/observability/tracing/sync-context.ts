import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';

/**
 * OpenTelemetry's current context for synchronous code only: `with` sets it for the duration of
 * a call, and nothing follows promises or callbacks. AsyncLocalStorage would carry it across
 * `await` too, but on Node 20 its promise hooks slow every promise of the process (about 15%
 * more CPU per request at samplingProb 1); porthole passes its trace on explicitly instead
 * (TraceScope, bindStore in tracing.ts).
 */
export class SyncContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  /** A function that runs in `context` whenever it is called; anything else (an emitter) as it is. */
  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const call = target as unknown as (...args: unknown[]) => unknown;
    const manager = this;
    return function bound(this: unknown, ...args: unknown[]) {
      return manager.with(context, () => call.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}
