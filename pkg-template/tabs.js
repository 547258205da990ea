// Cross-tab coordination for sessions kept in localStorage (docs/design.md,
// "Across tabs"): one refresh for all tabs under the Web Lock `<storage key>`
// (or, without Web Locks, the core's localStorage lease: src/client/lease.rs),
// news over BroadcastChannel `<key>` (`tokens`, `ended`; never a token) or
// `storage` events, and a re-read when a sleeping tab wakes. Waiting for the
// lock is bounded (the core's `lockWaitMs`): past that the tab goes on
// without it. Every delay here is the core's (src/client/lease.rs).

import { isObject, sleep, timerMs } from './transfer.js';

/** @import { SessionKeeper } from './session.js' */

export class Tabs {
  /** @param {SessionKeeper} keeper */
  constructor(keeper) {
    this.keeper = keeper;
    this.key = keeper.s.storageKey;
    /** The localStorage lease this tab holds: [key, owner]. @type {[string, string] | null} */
    this.lease = null;
    // Set when this tab stored new tokens (see settleAfterWrite).
    this.wrote = false;
    /** @type {(() => void)[]} */
    this.unlisten = [];
    /** @type {BroadcastChannel | null} */
    this.channel = null;
    /** @param {EventTarget} target @param {string} event @param {(e: any) => void} f */
    const listen = (target, event, f) => {
      /** @param {Event} e */
      const handler = (e) => {
        if (!keeper.lifetime.signal.aborted) f(e);
      };
      target.addEventListener(event, handler);
      this.unlisten.push(() => target.removeEventListener(event, handler));
    };
    if (typeof BroadcastChannel === 'function') {
      try {
        const channel = new BroadcastChannel(this.key);
        this.channel = channel;
        listen(channel, 'message', ({ data }) => {
          if (data?.type === 'tokens') this.recheck();
          else if (data?.type === 'ended') this.endedElsewhere(data.reason);
        });
      } catch {}
    }
    const global = /** @type {any} */ (globalThis);
    if (typeof global.addEventListener === 'function') {
      for (const event of ['pageshow', 'online']) listen(global, event, () => this.recheck());
      // Browsers without BroadcastChannel still see the session key change.
      listen(global, 'storage', (e) => {
        if (e.key !== this.key) return;
        // With a channel, its 'ended' message says why (a logout, a dead
        // grant) and the removal must not race it to a vaguer reason.
        if (e.newValue !== null) this.recheck();
        else if (!this.channel) this.endedElsewhere();
      });
      listen(global, 'pagehide', () => this.releaseLease());
    }
    // `visibilitychange` fires on document, not on the global.
    if (isObject(global.document)) listen(global.document, 'visibilitychange', () => this.recheck());
  }

  detach() {
    for (const off of this.unlisten) off();
    this.unlisten = [];
    this.channel?.close();
    this.channel = null;
  }

  /**
   * Adopts newer tokens another tab stored. While this tab refreshes, the
   * refresh re-reads storage under the lock itself: adopting mid-refresh could
   * send a refresh token another tab already spent.
   */
  async recheck() {
    const k = this.keeper;
    if (k.inflight) return;
    const stored = await k.readShared();
    if (!k.inflight && k.core.adoptStored(stored, Date.now())) k.emitRefreshed();
  }

  /** Another tab logged out or saw the grant die. @param {unknown} [reason] */
  endedElsewhere(reason) {
    const ended = this.keeper.core.endedElsewhere(reason);
    if (ended !== undefined) this.keeper.emitEnded(ended.reason, ended.error);
  }

  /** @param {'tokens' | 'ended'} type @param {string} [reason] */
  post(type, reason) {
    const message = reason === undefined ? { type } : { type, reason };
    try {
      this.channel?.postMessage(message);
    } catch {}
  }

  /** Tells the other tabs that new tokens are in storage. */
  announceTokens() {
    this.wrote = true;
    this.post('tokens');
  }

  /** @param {string} reason */
  announceEnd(reason) {
    this.post('ended', reason);
  }

  /** A holder that stored new tokens keeps the lock a little longer (why: the core's STORAGE_SETTLE_MS). */
  async settleAfterWrite() {
    if (!this.wrote) return;
    this.wrote = false;
    await sleep(this.keeper.core, this.keeper.s.storageSettleMs, this.keeper.signals()).catch(() => {});
  }

  /** Runs `task` holding the cross-tab lock. @param {() => Promise<void>} task @returns {Promise<void>} */
  async withLock(task) {
    const waitMs = this.keeper.s.lockWaitMs;
    const locks = /** @type {any} */ (globalThis).navigator?.locks;
    if (!isObject(locks)) return this.withLease(waitMs, task);
    // Bounded wait: past it, go on without the lock (the refresh re-reads
    // storage first) instead of surfacing a lock error.
    const giveUp = new AbortController();
    const timer = setTimeout(() => giveUp.abort(), timerMs(waitMs));
    /** @type {(() => Promise<void>) | null} */
    let pending = task;
    const take = () => {
      const t = pending;
      pending = null;
      return t;
    };
    const runUnlocked = () => take()?.();
    try {
      let granted;
      try {
        granted = locks.request(this.key, { signal: giveUp.signal }, async () => {
          const t = take();
          this.wrote = false;
          if (!t) return;
          try {
            await t();
          } finally {
            await this.settleAfterWrite();
          }
        });
      } catch {
        return await runUnlocked();
      }
      try {
        await granted;
      } catch (e) {
        // Never granted (the wait ran out, or no lock support here): run unlocked.
        if (pending !== null && /** @type {any} */ (e)?.name === 'AbortError') return await runUnlocked();
        throw e;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** The fallback lock: a lease in localStorage. @param {number} waitMs @param {() => Promise<void>} task */
  async withLease(waitMs, task) {
    const k = this.keeper;
    const core = k.core;
    const key = k.s.leaseKey;
    const me = String(Math.floor(Math.random() * 9e15));
    const signals = k.signals();
    const giveUpAt = Date.now() + waitMs;
    const read = () => k.storage.read(key).catch(() => undefined);
    let held = false;
    // Bounded by giveUpAt; every round sleeps.
    while (Date.now() < giveUpAt) {
      const wait = core.leaseWaitMs(await read(), me, Date.now(), Math.random());
      if (wait > 0) {
        await sleep(core, wait, signals);
        continue;
      }
      await k.storage.write(key, core.leaseRecord(me, Date.now())).catch(() => {});
      // Let racing tabs' writes land, then see who won.
      await sleep(core, k.s.leaseSettleMs, signals);
      const value = await read();
      if (value !== undefined && core.leaseOwner(value) === me) {
        held = true;
        break;
      }
    }
    if (held) this.lease = [key, me];
    try {
      return await task();
    } finally {
      if (held) this.releaseLease();
    }
  }

  /** Removes this tab's lease if it is still ours. Synchronous (localStorage), so it also works in `pagehide`. */
  releaseLease() {
    const held = this.lease;
    this.lease = null;
    if (!held) return;
    const [key, me] = held;
    let current;
    try {
      current = globalThis.localStorage.getItem(key);
    } catch {
      return;
    }
    // removeItem runs before this returns.
    if (typeof current === 'string' && this.keeper.core.leaseOwner(current) === me) this.keeper.storage.remove(key).catch(() => {});
  }
}
