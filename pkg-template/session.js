// The OAuth session's IO: the first read of storage, one refresh shared by
// every caller (and every tab), persisting, ending, events. Each loop asks
// the core (ClientCore) what to do, does it, and feeds the result back.
//
// Expiry is checked against Date.now() on every call: timers fire late or
// never after a laptop sleeps or a tab is backgrounded, so no timer is needed
// for correctness. Every loop is bounded (the core's budgets, plus a cap).

import { makeStorage } from './storage.js';
import { Tabs } from './tabs.js';
import { check, codeOf, describe, neverSent, sleep } from './transfer.js';

/** @import { ClientCore, Settings, TokenStep, TokenReady, RefreshStep, SessionEndedStep } from './steps.js' */
/** @import { Provider } from './provider.js' */
/** @import { Signals } from './transfer.js' */
/** @import { MeshError } from './errors.js' */
/** @import { MeshClientEvents, SessionEndReason } from './index.js' */

export class SessionKeeper {
  /** @param {ClientCore} core @param {Settings} settings @param {Provider} provider @param {unknown} storage */
  constructor(core, settings, provider, storage) {
    this.core = core;
    this.s = settings;
    this.provider = provider;
    // API-key mode loads no OAuth state: storage is never touched.
    this.storage = makeStorage(core, settings.apiKeyMode ? undefined : storage);
    /** true once the stored session was read; a promise while it is read. @type {true | Promise<void> | null} */
    this.load = this.storage.memory ? true : null;
    /** The refresh in flight, shared by every waiter of this realm. @type {Promise<void> | null} */
    this.inflight = null;
    /** @type {[string, Function][]} */
    this.handlers = [];
    // Aborted by dispose(): ends every request, sleep and poll.
    this.lifetime = new AbortController();
    this.tabs = this.storage.shared ? new Tabs(this) : null;
  }

  /** @param {AbortSignal} [caller] @returns {Signals} */
  signals(caller) {
    return [this.lifetime.signal, caller];
  }

  alive() {
    check(this.core, this.signals());
  }

  /** @param {unknown} name @param {unknown} handler */
  on(name, handler) {
    this.core.checkListener(name, typeof handler === 'function');
    /** @type {[string, Function]} */
    const entry = [/** @type {string} */ (name), /** @type {Function} */ (handler)];
    // A new array: an emit under way goes on over the list it started with,
    // so a handler added meanwhile is called from the next emit on.
    this.handlers = [...this.handlers, entry];
    return () => {
      this.handlers = this.handlers.filter((h) => h !== entry);
    };
  }

  /**
   * Calls each handler of `name`; one that throws stops neither the others nor the SDK.
   * @template {keyof MeshClientEvents} E @param {E} name @param {MeshClientEvents[E]} payload
   */
  emit(name, payload) {
    for (const [n, f] of this.handlers) {
      if (n !== name) continue;
      try {
        f(payload);
      } catch {}
    }
  }

  /** @param {SessionEndReason} reason @param {MeshError} [error] */
  emitEnded(reason, error) {
    this.emit('sessionEnded', error ? { reason, error } : { reason });
  }

  emitRefreshed() {
    this.emit('refreshed', /** @type {import('./index.js').SessionInfo} */ (this.core.sessionInfo()));
  }

  dispose() {
    this.lifetime.abort();
    this.handlers = [];
    this.tabs?.detach();
  }

  /** Loads the stored session on first use, once for concurrent callers. A session set meanwhile wins. */
  async ensureLoaded() {
    while (this.load !== true) {
      if (this.load) {
        await this.load;
        continue;
      }
      /** @type {() => void} */
      let done = () => {};
      this.load = new Promise((resolve) => (done = resolve));
      const generation = this.core.generation();
      let stored;
      let failure;
      try {
        stored = await this.storage.read(this.s.storageKey);
      } catch (e) {
        failure = describe(e);
      }
      this.core.loadStored(generation, stored, failure);
      this.load = true;
      done();
    }
  }

  /** What storage holds now, for persisted storage only (another tab may have refreshed); errors read as nothing. */
  async readShared() {
    if (this.storage.memory) return undefined;
    try {
      return await this.storage.read(this.s.storageKey);
    } catch {
      return undefined;
    }
  }

  /** Writes the current tokens (or removes them): the adapter is called now; failures leave the session in memory. */
  persist() {
    const key = this.s.storageKey;
    const json = this.core.storedRecord();
    return (json === undefined ? this.storage.remove(key) : this.storage.write(key, json)).catch(() => {});
  }

  /** New tokens are the session's (setSession, a login): stored, and the other tabs told. */
  async adopted() {
    this.load = true;
    await this.persist();
    this.tabs?.announceTokens();
  }

  /** A usable token: the core decides, this does the IO. */
  async accessToken() {
    this.alive();
    await this.ensureLoaded();
    return this.drive(this.core.getToken(Date.now()));
  }

  /** After the API rejected a token of generation `stale`. @param {number} stale */
  forceRefresh(stale) {
    this.alive();
    return this.drive(this.core.forceRefresh(stale, Date.now()));
  }

  /** @param {TokenStep} step @returns {Promise<TokenReady>} */
  async drive(step) {
    // Each round returns or waits for one refresh; a few rounds cover a
    // refresh that ends just as a token becomes due again.
    for (let round = 0; round < 4; round++) {
      switch (step.t) {
        case 'ready':
          return step;
        case 'startRefresh':
          this.startRefresh();
        // fall through: the starter waits like everyone else
        case 'joinRefresh':
          await this.inflight;
          break;
        case 'sessionEnded':
          if (!(await this.sessionEnded(step))) throw step.error;
          break;
        default:
          throw step.error;
      }
      this.alive();
      step = this.core.getToken(Date.now());
    }
    throw this.core.failure('no_token');
  }

  /** Starts the one refresh: its promise resolves when a token is usable and rejects with the failure every waiter shares. */
  startRefresh() {
    const run = () => (this.tabs ? this.tabs.withLock(() => this.refreshLocked()) : this.refreshLocked());
    const task = Promise.resolve()
      .then(run)
      .finally(() => {
        if (this.inflight === task) this.inflight = null;
      });
    this.inflight = task;
  }

  /** The refresh, run holding the cross-tab lock where there is one. @returns {Promise<void>} */
  async refreshLocked() {
    const core = this.core;
    let step = core.beforeSend(await this.readShared(), Date.now());
    if (step.t === 'adoptedStored') {
      // Another tab stored fresh tokens: use them.
      this.emitRefreshed();
      return;
    }
    if (step.t === 'sessionEnded') {
      if (await this.sessionEnded(step)) return;
      throw step.error;
    }
    const signals = this.signals();
    // The core allows `maxRefreshRetries` retries within `timeoutMs`; the cap is a backstop.
    for (let attempt = 0; attempt < 100; attempt++) {
      const outcome = await this.attempt(step.refreshToken, signals);
      switch (outcome.t) {
        case 'retryRefresh':
          try {
            await sleep(core, outcome.ms, signals);
          } catch (e) {
            core.abandonRefresh(false);
            throw e;
          }
          // The same token again, or a newer one another tab stored meanwhile.
          step = core.beforeSend(await this.readShared(), Date.now());
          if (step.t === 'adoptedStored') return;
          if (step.t === 'sessionEnded') throw step.error;
          break;
        case 'refreshed':
          await this.persist();
          this.tabs?.announceTokens();
          this.emitRefreshed();
          return;
        case 'refreshFailed':
          this.emit('refreshFailed', { error: outcome.error });
          if (outcome.valid) return;
          throw outcome.error;
        default:
          if (await this.sessionEnded(outcome)) return;
          throw outcome.error;
      }
    }
    core.abandonRefresh(true);
    throw core.failure('refresh_retries');
  }

  /** One refresh attempt and the core's verdict on it. @param {string} refreshToken @param {Signals} signals @returns {Promise<RefreshStep>} */
  async attempt(refreshToken, signals) {
    const core = this.core;
    let endpoints;
    try {
      endpoints = await this.provider.endpoints(signals);
    } catch (e) {
      // Discovery failed: the refresh token was never sent.
      const step = core.onRefreshError(codeOf(e), false, Date.now(), Math.random());
      if (step.t === 'abandoned') throw e;
      return step;
    }
    let answer;
    try {
      answer = await this.provider.refresh(endpoints, refreshToken, core.attemptTimeout(Date.now()), signals);
    } catch (e) {
      const step = core.onRefreshError(codeOf(e), !neverSent(e), Date.now(), Math.random());
      if (step.t === 'abandoned') throw e;
      return step;
    }
    return core.onTokenResponse(answer.status, answer.body, answer.retryAfter, Date.now(), Math.random());
  }

  /**
   * The core ended the session. A newer session another tab stored is adopted
   * instead (true: ask the core again). Otherwise storage is cleared, other
   * tabs are told, and `sessionEnded` fires (false).
   * @param {SessionEndedStep} step
   */
  async sessionEnded({ reason, error }) {
    if (this.storage.shared && this.core.adoptStored(await this.readShared(), Date.now())) return true;
    this.tabs?.announceEnd(reason);
    await this.storage.remove(this.s.storageKey).catch(() => {});
    this.emitEnded(reason, error);
    return false;
  }

  async logout() {
    this.alive();
    await this.ensureLoaded();
    // Let a refresh in flight settle, so the token revoked is the latest.
    await this.inflight?.catch(() => {});
    const refreshToken = this.core.clear();
    this.load = true;
    this.tabs?.announceEnd('logout');
    await this.storage.remove(this.s.storageKey).catch(() => {});
    let revoked = false;
    if (refreshToken !== undefined) revoked = await this.provider.revoke(refreshToken, this.signals()).catch(() => false);
    this.emitEnded('logout');
    return revoked;
  }
}
