// Where the session is kept, as the core reads the `storage` option
// (`StorageChoice`, src/client/storage.rs): memory, a Web Storage or an
// adapter. A write calls the adapter before it returns, so writes happen in
// call order.

import { describe, isObject } from './transfer.js';

/** @import { ClientCore } from './steps.js' */

/**
 * @typedef {object} Store
 * @property {boolean} memory nothing is persisted
 * @property {boolean} shared the tabs of an origin share it (localStorage)
 * @property {(key: string) => Promise<string | undefined>} read
 * @property {(key: string, value: string) => Promise<void>} write
 * @property {(key: string) => Promise<void>} remove
 */

/** @param {ClientCore} core @param {unknown} option @returns {Store} */
export function makeStorage(core, option) {
  const choice = core.storageChoice(option);
  if (!choice) {
    const none = async () => undefined;
    return { memory: true, shared: false, read: none, write: none, remove: none };
  }
  const { global, shared, methods, deadlineMs } = choice;
  /** @type {any} */
  let target = option;
  const complete = () => methods.every((n) => typeof target[n] === 'function');
  if (global) {
    /** @param {string} why */
    const unavailable = (why) => core.failure('storage_unavailable', global, why);
    try {
      // Reading `localStorage` throws in sandboxed frames and with cookies off.
      target = /** @type {any} */ (globalThis)[global];
    } catch (e) {
      throw unavailable(describe(e));
    }
    if (target === undefined) {
      // Server rendering: a module-scope client is built on the server too,
      // where no web storage exists. Construction succeeds; its first read
      // fails with the same error, and the browser's client has the storage.
      const fail = () => Promise.reject(unavailable('this runtime has none'));
      return { memory: false, shared: false, read: fail, write: fail, remove: fail };
    }
    if (!isObject(target)) throw unavailable('this runtime has none');
    if (!complete()) throw unavailable('not a Storage');
  } else if (!complete()) {
    throw core.failure('storage_adapter');
  }
  const [get, set, remove] = methods.map((n) => target[n]);
  /**
   * One call of the target's method `name`, its failure a `storage` error;
   * an adapter's is bounded by the core's deadline: a call that never
   * settles must not hang every call of the client.
   * @param {string} name @param {() => unknown} call
   */
  const settle = (name, call) => {
    /** @param {unknown} e */
    const fail = (e) => core.failure('storage', '', describe(e));
    let settled;
    try {
      settled = Promise.resolve(call()).catch((e) => {
        throw fail(e);
      });
    } catch (e) {
      return Promise.reject(fail(e));
    }
    if (deadlineMs === undefined) return settled;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(core.failure('storage_timeout', name, String(deadlineMs))), deadlineMs);
    });
    return Promise.race([settled, late]).finally(() => clearTimeout(timer));
  };
  return {
    memory: false,
    shared,
    read: (key) =>
      settle(methods[0], () => get.call(target, key)).then((v) => {
        if (v === undefined || v === null) return undefined;
        if (typeof v === 'string') return v;
        throw core.failure('storage_value');
      }),
    write: (key, value) => settle(methods[1], () => set.call(target, key, value)).then(() => {}),
    remove: (key) => settle(methods[2], () => remove.call(target, key)).then(() => {}),
  };
}
