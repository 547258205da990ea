// The authorization code login with PKCE (the rules: src/client/redirect.rs
// and src/client/id_token.rs). This module does the steps only: random
// bytes and SHA-256 and the signature check through WebCrypto, the pending
// logins in the tab's sessionStorage (kept in memory where there is none,
// as in Node), the token and JWKS requests. The rules are `RedirectCore`'s:
// beside ClientCore in the server build; in the browser a wasm module of
// its own, loaded on the first redirect-login call (so that a page which
// never signs in with the redirect does not download it).

import { describe } from './transfer.js';

/** @import { ClientCore, ServerClientCore, Settings, Endpoints, RedirectCore, LoadRedirectCore, IdTokenCheck } from './steps.js' */
/** @import { Signals } from './transfer.js' */
/** @import { Provider } from './provider.js' */
/** @import { SessionKeeper } from './session.js' */
/** @typedef {{ read(): string | null, write(list: string | null): void }} PendingStore */

export class RedirectLogin {
  /**
   * @param {ClientCore} core @param {Settings} settings @param {Provider} provider @param {SessionKeeper} keeper
   * @param {PendingStore} [pending] where the pending logins are kept instead of the tab (mesh-sdk/next: a sealed cookie)
   * @param {LoadRedirectCore} [load] the `RedirectCore` class, where `core` has no `redirectCore()` (the browser's build)
   */
  constructor(core, settings, provider, keeper, pending, load) {
    this.core = core;
    this.s = settings;
    this.provider = provider;
    this.keeper = keeper;
    /** @type {string | null} where sessionStorage is missing */
    this.memory = null;
    this.pending = pending ?? null;
    this.load = load;
    /** @type {Promise<RedirectCore> | null} */
    this.loaded = null;
  }

  /** The redirect login's rules; a failed load is tried again on the next call. @returns {Promise<RedirectCore>} */
  #rules() {
    const core = this.core;
    const server = /** @type {Partial<ServerClientCore>} */ (core);
    if (server.redirectCore) return Promise.resolve(server.redirectCore());
    this.loaded ??= Promise.resolve()
      .then(() => /** @type {LoadRedirectCore} */ (this.load)())
      .then((RedirectCore) => new RedirectCore(this.s))
      .catch((e) => {
        this.loaded = null;
        throw core.failure('redirect_load', '', describe(e));
      });
    return this.loaded;
  }

  /** @returns {string | null} */
  #read() {
    if (this.pending) return this.pending.read();
    try {
      return globalThis.sessionStorage ? globalThis.sessionStorage.getItem(this.s.redirectLoginKey) : this.memory;
    } catch {
      return this.memory;
    }
  }

  /** @param {string | null} list */
  #write(list) {
    if (this.pending) return this.pending.write(list);
    this.memory = list;
    try {
      const tab = globalThis.sessionStorage;
      if (tab) list === null ? tab.removeItem(this.s.redirectLoginKey) : tab.setItem(this.s.redirectLoginKey, list);
    } catch {
      // A sandboxed frame or storage turned off: the login can complete in this page only.
    }
  }

  /** The authorization URL; the pending login is kept for the callback. @param {unknown} options @param {Signals} signals */
  async authorizeUrl(options, signals) {
    const [endpoints, rules] = await Promise.all([this.provider.endpoints(signals), this.#rules()]);
    const random = crypto.getRandomValues(new Uint8Array(rules.redirectRandomBytes()));
    const verifier = new TextEncoder().encode(rules.redirectVerifier(random));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', verifier));
    const [url, list] = rules.redirectStart(options, endpoints, random, digest, this.#read(), Date.now());
    this.#write(list);
    return url;
  }

  /** Checks the callback, exchanges the code, verifies the ID token, stores the session. @param {string} url @param {Signals} signals */
  async handleCallback(url, signals) {
    const core = this.core;
    const [endpoints, rules] = await Promise.all([this.provider.endpoints(signals), this.#rules()]);
    const checked = rules.redirectCallback(String(url), this.#read(), endpoints, Date.now());
    // The pending login is consumed before the exchange: a replay finds nothing.
    this.#write(checked.remaining);
    if (!checked.grant) throw checked.error;
    const grant = checked.grant;
    const answer = await this.provider.postForm(endpoints.token, grant.form, this.s.timeoutMs, signals, 'authorization code exchange');
    const jwks = await this.provider.jwks(endpoints, signals);
    const check = rules.redirectTokens(answer.status, answer.body, jwks);
    const verified = await verifySignature(check);
    /** @type {import('./index.js').Session | undefined} */
    let session;
    const store = async () => {
      const now = Date.now();
      // Throws unless the signature verified and the claims hold; only then are the tokens the session.
      rules.redirectFinish(check.idToken, verified, grant.nonce, now);
      session = core.redirectSession(answer.body, check.idToken, now);
      await this.keeper.adopted();
    };
    await (this.keeper.tabs ? this.keeper.tabs.withLock(store) : store());
    return { .../** @type {import('./index.js').Session} */ (session), returnTo: grant.returnTo };
  }

  /** The RP-initiated logout URL for the ID token `idToken`, or null. @param {string | undefined} idToken @param {unknown} returnTo @param {Signals} signals */
  logoutUrl(idToken, returnTo, signals) {
    return this.provider.logoutUrl(idToken, returnTo, signals);
  }

}

/** WebCrypto's verdict on the ID-token signature the core's check names. @param {IdTokenCheck} check */
export async function verifySignature(check) {
  try {
    const key = await crypto.subtle.importKey('jwk', check.key, check.importParams, false, ['verify']);
    return await crypto.subtle.verify(check.verifyParams, key, check.signature, check.data);
  } catch {
    // A key WebCrypto will not import verifies nothing: the core refuses the token.
    return false;
  }
}
