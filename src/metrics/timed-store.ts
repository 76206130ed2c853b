/**
 * A Store whose interface methods are timed into a histogram
 * (rookery_store_call_seconds{interface,method}). The wrapper is a Proxy
 * per interface, so new methods are timed without edits here; anything
 * that is not a function (location, schemaVersion) passes through.
 */
import type { Store } from '../store/types.js';
import type { Histogram } from './registry.js';

const timedInterfaces = ['directory', 'mail', 'settings', 'cluster', 'queue', 'tokens', 'vacation', 'loginFailures'] as const;

function timeInterface<T extends object>(target: T, name: string, histogram: Histogram): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        // Started before the call: the embedded store does its work synchronously inside it.
        const start = process.hrtime.bigint();
        const result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (!(result instanceof Promise)) return result;
        const done = () => histogram.observe({ interface: name, method: prop }, Number(process.hrtime.bigint() - start) / 1e9);
        result.then(done, done);
        return result;
      };
    },
  });
}

export function timedStore(store: Store, histogram: Histogram): Store {
  const wrapped = new Map<string, object>(timedInterfaces.map((k) => [k, timeInterface(store[k] as object, k, histogram)]));
  return new Proxy(store, {
    get(obj, prop, receiver) {
      if (typeof prop === 'string' && wrapped.has(prop)) return wrapped.get(prop);
      return Reflect.get(obj, prop, receiver) as unknown;
    },
  });
}
