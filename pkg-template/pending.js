// A device login that survives a reload of the page that shows its code
// (the record and its rules: src/client/pending_login.rs). Kept in the tab's
// sessionStorage, and only by a client that persists its session in web
// storage: a 'memory' client keeps nothing across a reload, by choice.
// Storage failures only cost the resume, never the login.

/** @import { ClientCore, Settings } from './steps.js' */

export class PendingLogins {
  /** @param {ClientCore} core @param {Settings} settings @param {unknown} storage the client's `storage` option */
  constructor(core, settings, storage) {
    this.core = core;
    this.key = settings.deviceLoginKey;
    /** @type {Storage | null} */
    this.tab = storage === 'localStorage' || storage === 'sessionStorage' ? tabStorage() : null;
  }

  /** Keeps the login of `userCode` (just started) for a reload. @param {string} userCode */
  keep(userCode) {
    const record = this.core.devicePending(userCode);
    if (record !== undefined) this.#quietly((tab) => tab.setItem(this.key, record));
  }

  /** The record of `userCode` as kept, to forget it when the login ends. @param {string} userCode */
  recordOf(userCode) {
    return this.core.devicePending(userCode);
  }

  /** Forgets the kept login if it is the one `record` names (another may have replaced it). @param {string | undefined} record */
  forget(record) {
    this.#quietly((tab) => {
      if (record !== undefined && tab.getItem(this.key) === record) tab.removeItem(this.key);
    });
  }

  /** The kept login, known to the core again; `null` when none can be resumed (and it is removed). */
  resume() {
    let stored = null;
    this.#quietly((tab) => (stored = tab.getItem(this.key)));
    if (stored === null) return null;
    const login = this.core.deviceRestore(stored, Date.now());
    if (login) return login;
    this.#quietly((tab) => tab.removeItem(this.key));
    return null;
  }

  /** @param {(tab: Storage) => void} use */
  #quietly(use) {
    if (!this.tab) return;
    try {
      use(this.tab);
    } catch {
      // Quota, a sandboxed frame, storage turned off: the login goes on without a resume.
    }
  }
}

/** @returns {Storage | null} */
function tabStorage() {
  try {
    // Reading `sessionStorage` throws in sandboxed frames and with cookies off.
    const s = /** @type {any} */ (globalThis).sessionStorage;
    return s && typeof s.getItem === 'function' ? s : null;
  } catch {
    return null;
  }
}
