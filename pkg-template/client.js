// MeshClient, the class users import: OAuth session with proactive,
// single-flight refresh, device login and authenticated API calls; or
// API-key mode. Each entry binds it to its build of the wasm core
// (`defineMeshClient(ClientCore)`); every decision is the core's.

import { PendingLogins } from './pending.js';
import { Provider } from './provider.js';
import { SessionKeeper } from './session.js';
import { bearer, sendApiCall } from './api-call.js';
import { codeOf, describe, isObject, makeRequest, requestOf, signalOf } from './transfer.js';

/** @import { ClientCore, ClientCoreClass, CallRecord, TokenReady, LoadRedirectCore } from './steps.js' */
/** @import { Transfer } from './transfer.js' */
/** @import { MeshClientOptions, MeshClientEvents, MeshKeys, CreateApiKeyOptions, RotateApiKeyOptions } from './index.js' */
/** @import { Auth } from './api-call.js' */


/**
 * `load` run once for every client of the realm (two instantiations of one
 * glue would share its state); a failed load is tried again.
 * @param {LoadRedirectCore} load @returns {LoadRedirectCore}
 */
export function loadOnce(load) {
  /** @type {ReturnType<LoadRedirectCore> | null} */
  let loading = null;
  return () =>
    (loading ??= load().catch((e) => {
      loading = null;
      throw e;
    }));
}

/**
 * @param {ClientCoreClass} ClientCore
 * @param {LoadRedirectCore} [loadRedirect] the redirect login's module, where ClientCore's build has none (the browser's)
 */
export function defineMeshClient(ClientCore, loadRedirect) {
  return class MeshClient {
    #core;
    #s;
    #keeper;
    #provider;
    /** @type {MeshKeys} */
    #keys;
    #pending;
    /** @type {Promise<import('./redirect.js').RedirectLogin> | null} */
    #redirect = null;

    /** @param {MeshClientOptions} options */
    constructor(options) {
      const core = new ClientCore(options);
      this.#core = core;
      this.#s = core.settings();
      this.#provider = new Provider(core, this.#s);
      this.#keeper = new SessionKeeper(core, this.#s, this.#provider, /** @type {any} */ (options).storage);
      this.#pending = new PendingLogins(core, this.#s, /** @type {any} */ (options).storage);
      this.#keys = {
        list: () => this.#listKeys(),
        create: (name, options) => this.#createKey(name, options),
        checkName: (name) => this.#core.checkKeyName(name) ?? null,
        revoke: (id) => this.#revokeKey(id),
        rotate: (id, options) => this.#rotateKey(id, options),
      };
    }

    /** API keys: `list()`, `create(name, options)`, `revoke(id)`, `rotate(id, options)` on `/api/v1/keys`; `checkName(name)` offline. */
    get keys() {
      return this.#keys;
    }

    /** A client whose session comes from `MESH_*` variables (kept in memory). @param {import('./index.js').MeshEnv} env @param {MeshClientOptions} options */
    static fromEnv(env, options) {
      const client = new MeshClient(options);
      client.#oauthOnly('fromEnv()');
      if (client.#core.fromEnv(env)) client.#keeper.load = true;
      return client;
    }

    /** The redirect login: its JavaScript and its rules load on its first call, so an app without it does not download them. */
    #redirectLogin() {
      this.#redirect ??= import('./redirect.js').then(
        ({ RedirectLogin }) => new RedirectLogin(this.#core, this.#s, this.#provider, this.#keeper, undefined, loadRedirect),
        (e) => {
          this.#redirect = null;
          throw this.#core.failure('redirect_load', '', describe(e));
        },
      );
      return this.#redirect;
    }

    /** @param {string} what */
    #oauthOnly(what) {
      if (this.#s.apiKeyMode) throw this.#core.failure('api_key_mode', what);
    }

    /** @template {keyof MeshClientEvents} E @param {E} name @param {(payload: MeshClientEvents[E]) => void} handler @returns {() => void} */
    on(name, handler) {
      return this.#keeper.on(name, handler);
    }

    dispose() {
      this.#keeper.dispose();
    }

    /** Frees the core's wasm memory; the client is unusable afterwards. */
    free() {
      this.dispose();
      this.#core.free();
    }

    getSession() {
      return this.#core.sessionInfo();
    }

    get session() {
      return this.#core.sessionInfo();
    }

    exportEnv() {
      return this.#core.exportEnv();
    }

    /** @param {import('./index.js').SessionInput} session */
    setSession(session) {
      this.#keeper.alive();
      this.#oauthOnly('setSession()');
      this.#core.setSession(session);
      this.#keeper.adopted();
    }

    async getAccessToken() {
      this.#oauthOnly('getAccessToken()');
      return (await this.#keeper.accessToken()).token;
    }

    /**
     * Revokes the refresh token, ends the session in every tab, and names the
     * provider's RP-initiated logout URL where it has one.
     * @param {import('./index.js').LogoutOptions} [options]
     */
    async logout(options) {
      this.#keeper.alive();
      if (this.#s.apiKeyMode) return { revoked: false, logoutUrl: null };
      const idToken = this.#core.idToken();
      const revoked = await this.#keeper.logout();
      const returnTo = isObject(options) ? options.returnTo : undefined;
      return { revoked, logoutUrl: await this.#provider.logoutUrl(idToken, returnTo, this.#keeper.signals()) };
    }

    /** `logout()`, then to the provider's logout page where there is one. @param {import('./index.js').LogoutOptions} [options] */
    async logoutWithRedirect(options) {
      const result = await this.logout(options);
      if (result.logoutUrl) globalThis.location.assign(result.logoutUrl);
      return result;
    }

    /** The provider's authorization URL (PKCE S256, state, nonce); the login waits in this tab for its callback. @param {import('./index.js').AuthorizeOptions} options */
    authorizeUrl(options) {
      this.#oauthOnly('authorizeUrl()');
      this.#keeper.alive();
      const signals = this.#keeper.signals();
      return this.#redirectLogin().then((redirect) => redirect.authorizeUrl(options, signals));
    }

    /** `authorizeUrl(options)`, then there. @param {import('./index.js').AuthorizeOptions} options */
    async loginWithRedirect(options) {
      globalThis.location.assign(await this.authorizeUrl(options));
    }

    /** Completes the redirect login of `url` (the callback page's): the session, with `user` and `returnTo`. @param {string} [url] */
    async handleRedirectCallback(url) {
      this.#oauthOnly('handleRedirectCallback()');
      this.#keeper.alive();
      return (await this.#redirectLogin()).handleCallback(url ?? globalThis.location.href, this.#keeper.signals());
    }

    /** @param {import('./index.js').DeviceLoginOptions} [options] */
    async startDeviceLogin(options) {
      this.#oauthOnly('startDeviceLogin()');
      this.#keeper.alive();
      const login = await this.#provider.startDeviceLogin(this.#keeper.signals(signalOf(options)), options);
      this.#pending.keep(login.userCode);
      return login;
    }

    /** Polls until the user approves; the tokens go straight into the session. @param {import('./index.js').DeviceLogin} login @param {import('./index.js').CallOptions} [options] */
    async completeDeviceLogin(login, options) {
      this.#oauthOnly('completeDeviceLogin()');
      this.#keeper.alive();
      const [userCode, deviceCode] = this.#core.deviceBegin(login);
      const record = this.#pending.recordOf(userCode);
      let session;
      try {
        session = await this.#provider.poll(userCode, deviceCode, this.#keeper.signals(signalOf(options)));
      } catch (e) {
        // The core keeps an aborted login to complete again (and resume after a reload); any other end is final.
        if (!this.#core.deviceEnd(userCode, codeOf(e))) this.#pending.forget(record);
        throw e;
      }
      this.#pending.forget(record);
      await this.#keeper.adopted();
      return session;
    }

    /** The device login this tab started before a reload, to show and complete again; `null` if none. */
    pendingDeviceLogin() {
      this.#oauthOnly('pendingDeviceLogin()');
      this.#keeper.alive();
      return this.#pending.resume();
    }

    /**
     * Ends a device login here: it can no longer be completed or resumed.
     * RFC 8628 has no way to withdraw a code at the provider; it expires there.
     * Abort a running `completeDeviceLogin` with its signal.
     * @param {import('./index.js').DeviceLogin} login
     */
    cancelDeviceLogin(login) {
      this.#oauthOnly('cancelDeviceLogin()');
      this.#pending.forget(this.#core.deviceCancel(login));
    }

    /** The credential header, and what the core records of it. @param {TokenReady} [ready] @returns {Promise<Auth>} */
    async #auth(ready) {
      if (this.#s.apiKeyHeader) return { header: this.#s.apiKeyHeader, credential: {} };
      return bearer(ready ?? (await this.#keeper.accessToken()));
    }

    /** Sends `request` with the credential, by the core's request policy (api-call.js). @param {Request} request @param {string} path @param {AbortSignal} [signal] @returns {Promise<[Transfer, CallRecord]>} */
    #send(request, path, signal) {
      this.#keeper.alive();
      return sendApiCall(this.#core, this.#keeper, this.#s, request, path, this.#keeper.signals(signal), (ready) => this.#auth(ready));
    }

    /** `fetch` on the API with the credential attached: the real Response. @param {RequestInfo | URL} input @param {RequestInit} [init] */
    async fetch(input, init) {
      const [url, path] = this.#core.resolveUrl(input);
      const [request, signal] = requestOf(url, input, init);
      const [response] = await this.#send(request, path, signal);
      // The deadline ends here: reading the body is governed by the caller's signal.
      response.stop();
      return response.raw;
    }

    /** A JSON call: the parsed body on 2xx, else an `http_error` with context. @param {string} method @param {string} input @param {unknown} [body] */
    async #callJson(method, input, body) {
      const [url, path] = this.#core.resolveUrl(input);
      const json = body === undefined ? undefined : JSON.stringify(body);
      /** @type {Record<string, string>} */
      const headers = { Accept: 'application/json' };
      if (json !== undefined) headers['Content-Type'] = 'application/json';
      const [response, call] = await this.#send(makeRequest(this.#core, method, url, headers, json), path);
      if (response.ok) return (await response.json()) ?? null;
      response.stop();
      throw this.#core.httpError(call, response.status, Date.now());
    }

    /** @param {string} message */
    async chat(message) {
      if (typeof message !== 'string') throw this.#core.failure('message');
      return /** @type {Promise<any>} */ (this.#callJson('POST', '/api/v1/chat', { message }));
    }

    async #listKeys() {
      const body = /** @type {any} */ (await this.#callJson('GET', this.#s.keysPath));
      return Array.isArray(body?.keys) ? body.keys : body;
    }

    /**
     * The gateway checks the options (scopes its caller holds, an expiry in
     * the future, a limit in range) and answers 400 or 403 with why.
     * @param {string} name @param {CreateApiKeyOptions} [options]
     */
    async #createKey(name, options) {
      const problem = this.#core.checkKeyName(name);
      if (problem) throw this.#core.failure('key_name', undefined, problem.message);
      this.#core.checkKeyOptions(options, false);
      const { scopes, expiresAt, rateLimit } = isObject(options) ? options : {};
      const expiry = expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt;
      return /** @type {any} */ (await this.#callJson('POST', this.#s.keysPath, { name, scopes, expiresAt: expiry, rateLimit }));
    }

    /** @param {string} id */
    async #revokeKey(id) {
      await this.#callJson('DELETE', this.#core.keyPath(id, false));
    }

    /** @param {string} id @param {RotateApiKeyOptions} [options] */
    async #rotateKey(id, options) {
      const path = this.#core.keyPath(id, true);
      this.#core.checkKeyOptions(options, true);
      const { gracePeriodSeconds } = isObject(options) ? options : {};
      return /** @type {any} */ (await this.#callJson('POST', path, { gracePeriodSeconds }));
    }

    /** `GET /auth/validate`; where it is missing or unreachable, the core's local verdict. */
    async validate() {
      let body;
      try {
        body = await this.#callJson('GET', '/auth/validate');
      } catch (e) {
        const error = /** @type {any} */ (e);
        const verdict = this.#core.validateFailure(typeof error?.code === 'string' ? error.code : '', typeof error?.status === 'number' ? error.status : undefined);
        if (verdict === 'invalid') return { valid: false, source: 'server', error };
        if (verdict === 'rethrow') throw e;
        await this.#keeper.ensureLoaded();
        return this.#core.localValidation(Date.now());
      }
      return this.#core.serverValidation(body);
    }
  };
}
