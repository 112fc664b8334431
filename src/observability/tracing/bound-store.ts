import { storeProperties } from './store-properties.js';
import type { TraceScope } from './tracing.js';

type Operation = (...args: unknown[]) => unknown;
type ViewClass = new (scope: TraceScope) => object;

/**
 * A class whose instances stand for `store` in one scope: each method runs the store's inside
 * `scope.run`, other properties are the store's. Built once per store, so that binding a store to
 * a request costs one small object.
 */
function viewClassOf(store: object): ViewClass {
  class BoundStore {
    constructor(readonly scope: TraceScope) {}
  }
  for (const name of storeProperties(store)) {
    const value: unknown = Reflect.get(store, name);
    if (typeof value === 'function') {
      Object.defineProperty(BoundStore.prototype, name, {
        value(this: BoundStore, ...args: unknown[]) {
          return this.scope.run(() => (Reflect.get(store, name) as Operation).apply(store, args));
        },
      });
    } else {
      Object.defineProperty(BoundStore.prototype, name, { get: () => Reflect.get(store, name) });
    }
  }
  return BoundStore;
}

const views = new WeakMap<object, ViewClass>();

/** `store` with every operation run in `scope` (see Tracing.bindStore). */
export function bindStore<S extends object>(store: S, scope: TraceScope): S {
  let View = views.get(store);
  if (View === undefined) {
    View = viewClassOf(store);
    views.set(store, View);
  }
  return new View(scope) as S;
}
