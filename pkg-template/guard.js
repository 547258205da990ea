// Used by the slim entry: until the wasm is initialised, a function, a class
// or its static methods throw one clear error instead of wasm-bindgen's
// "Cannot read properties of undefined".
import { notInitialized } from './errors.js';

/**
 * @template T
 * @param {T} value @param {string} name @param {() => boolean} isReady
 * @returns {T}
 */
export function guard(value, name, isReady) {
  if (typeof value !== 'function') return value;
  const check = () => {
    if (!isReady()) throw notInitialized(name);
  };
  /** @type {Map<string | symbol, Function>} */
  const statics = new Map();
  return new Proxy(value, {
    apply(target, self, args) {
      check();
      return Reflect.apply(target, self, args);
    },
    construct(target, args, newTarget) {
      check();
      return Reflect.construct(target, args, newTarget);
    },
    get(target, key) {
      const member = Reflect.get(target, key);
      // Static methods (e.g. MeshClient.fromEnv), not the prototype or name.
      if (typeof member !== 'function' || !Object.hasOwn(target, key)) return member;
      if (!statics.has(key)) {
        statics.set(key, (/** @type {unknown[]} */ ...args) => {
          check();
          return Reflect.apply(member, target, args);
        });
      }
      return statics.get(key);
    },
  });
}
