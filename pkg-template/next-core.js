// mesh-sdk/next: the server-side session of a Next.js app. The redirect
// login, the ID token's checks and the refresh are the client's own
// (RedirectLogin, SessionKeeper over ClientCore); what the cookies are
// called, hold and look like, which paths the handlers serve and what the
// middleware answers are the core's (src/client/server_session.rs, through
// ServerRules). This module does the IO: WebCrypto (HKDF, AES-256-GCM),
// cookies, and the session store.
//
// Every request of one session in this process shares one SessionKeeper
// (a cache by session id), so N concurrent requests on a nearly expired
// session cause one token request. A server store (`memory`, Redis) keeps
// the tokens off the cookie, which then holds a random session id; Redis
// adds a lock with expiry and fencing across processes (next-redis.js).

import { bearer, sendApiCall } from './api-call.js';
import { deviceRoutes } from './next-device.js';
import { Provider } from './provider.js';
import { RedirectLogin } from './redirect.js';
import { SessionKeeper } from './session.js';
import { nextJar, requestJar } from './next-jar.js';
import { isObject, requestOf } from './transfer.js';

/** @import { TokenReady, ServerClientCore, ServerClientCoreClass, ServerRules, ServerRulesClass, ServerSettings, SessionPayload, Settings, DispatchStep } from './steps.js' */
/** @import { Signals } from './transfer.js' */
/** @import { MeshAuthOptions, MeshAuth, MeshServerSession, ServerStore } from './next.js' */
/** @import { Jar } from './next-jar.js' */
/** @typedef {{ rules: ServerRules, settings: ServerSettings, core: ServerClientCore }} StoreContext */

const encoder = new TextEncoder();

/** A server store kept in this process's memory (one process only). @returns {ServerStore} */
function memoryStore() {
  /** @type {Map<string, { record: string, until: number }>} */
  const records = new Map();
  return {
    async get(sid) {
      const found = records.get(sid);
      if (found && found.until > Date.now()) return found.record;
      records.delete(sid);
      return null;
    },
    async set(sid, record, ttlMs) {
      records.set(sid, { record, until: Date.now() + ttlMs });
      return true;
    },
    async remove(sid) {
      records.delete(sid);
    },
    withLock: null,
  };
}

/**
 * @param {ServerClientCoreClass} ClientCore @param {ServerRulesClass} ServerRulesClass
 * @param {(url: string, context: StoreContext) => Promise<ServerStore>} [redisStore]
 */
export function defineMeshAuth(ClientCore, ServerRulesClass, redisStore) {
  /** @param {MeshAuthOptions} options @returns {MeshAuth} */
  return function createMeshAuth(options) {
    const o = isObject(options) ? options : {};
    // One options object for both: the server build's core reads the
    // client's options and knows createMeshAuth's by name (client::option_names);
    // ServerRules reads and checks those, and says what this layer runs with.
    const base = new ClientCore(o);
    /** @type {Settings} */
    const settings = base.settings();
    const rules = new ServerRulesClass(o, settings.timeoutMs);
    const s = rules.settings();
    const { secret, store: storeOption, prompt, serverStore, storeKind, redisUrl } = rules.options();
    const provider = new Provider(base, settings);
    const lifetime = new AbortController();
    /** @type {Signals} */
    const signals = [lifetime.signal, undefined];
    /** The store the core named (`cookie`: none). @type {Record<string, () => Promise<ServerStore>>} */
    const makers = {
      memory: async () => memoryStore(),
      // The edge entry has no sockets: its middleware reads the cookie only, and anything else says why it cannot.
      redis: () => (redisStore ? redisStore(/** @type {string} */ (redisUrl), { rules, settings: s, core: base }) : Promise.reject(base.failure('storage_unavailable', 'redis', 'no sockets in the edge runtime'))),
      custom: async () => /** @type {ServerStore} */ (storeOption),
    };
    const makeStore = makers[storeKind] ?? null;
    /** @type {Promise<ServerStore> | null} */
    let storePromise = null;
    // Made on first use, not at import. A store that could not be made is
    // made again by the next request (a Redis down at first use and back
    // later is found; the connection's own attempts bound each try).
    /** @returns {Promise<ServerStore | null>} */
    const storeOf = async () => {
      if (!makeStore) return null;
      if (!storePromise) {
        const made = makeStore();
        storePromise = made;
        made.catch(() => {
          if (storePromise === made) storePromise = null;
        });
      }
      return storePromise;
    };

    /** @type {Promise<CryptoKey> | null} */
    let keyPromise = null;
    const key = () =>
      (keyPromise ??= (async () => {
        const raw = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey']);
        const params = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(s.keyInfo) };
        return crypto.subtle.deriveKey(params, raw, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      })());

    /** @param {string} name @param {string} plaintext */
    const seal = async (name, plaintext) => {
      const iv = crypto.getRandomValues(new Uint8Array(s.ivBytes));
      const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(name) }, await key(), encoder.encode(plaintext));
      return rules.seal(iv, new Uint8Array(sealed));
    };

    // Session cookies this process opened, by their sealed value: a request
    // carrying one seen before skips the decrypt (what it holds is checked
    // again by the core each time). Least recently used dropped first.
    /** @type {Map<string, string>} */
    const opened = new Map();

    /** The plaintext of cookie `name`, or null when it is absent, tampered with or sealed with another secret. @param {Jar} jar @param {string} name */
    const open = async (jar, name) => {
      const sealed = rules.readCookie(jar.header, name) ?? '';
      const known = name === s.sessionCookie ? opened.get(sealed) : undefined;
      if (known !== undefined) {
        opened.delete(sealed);
        opened.set(sealed, known);
        return known;
      }
      const parts = rules.unseal(sealed);
      if (!parts) return null;
      let text;
      try {
        const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: parts[0], additionalData: encoder.encode(name) }, await key(), parts[1]);
        text = new TextDecoder('utf-8', { fatal: true }).decode(plain);
      } catch {
        return null;
      }
      if (name === s.sessionCookie) {
        opened.set(sealed, text);
        if (opened.size > s.maxCached) opened.delete(/** @type {string} */ (opened.keys().next().value));
      }
      return text;
    };

    // The sessions of this process, least recently used first.
    /** @type {Map<string, Entry>} */
    const entries = new Map();

    class Entry {
      /** @param {string} sid @param {number} createdAt @param {ServerStore | null} store */
      constructor(sid, createdAt, store) {
        this.sid = sid;
        this.createdAt = createdAt;
        /** The fencing token while this process holds the session's lock. @type {string | null} */
        this.fence = null;
        /** The cookie store's record. @type {string | null} */
        this.record = null;
        /** The last record this entry was offered. @type {string | null} */
        this.seen = null;
        this.core = new ClientCore(o);
        const ttl = () => Math.max(1, rules.sessionTtlMs(this.createdAt, Date.now()));
        const adapter = store
          ? {
              get: () => store.get(sid),
              set: (/** @type {string} */ _k, /** @type {string} */ v) => store.set(sid, v, ttl(), this.fence),
              remove: () => store.remove(sid, this.fence),
            }
          : {
              get: () => this.record,
              set: (/** @type {string} */ _k, /** @type {string} */ v) => void (this.record = v),
              remove: () => void (this.record = null),
            };
        this.keeper = new SessionKeeper(this.core, settings, provider, adapter);
        this.keeper.load = true;
        if (store) {
          // Re-read before a refresh and before ending: another process may have stored newer tokens.
          this.keeper.storage.shared = true;
          if (store.withLock) {
            const withLock = store.withLock;
            const lock = {
              /** @template T @param {() => Promise<T>} fn @returns {Promise<T>} */
              withLock: (fn) => withLock(sid, ttl(), (fence) => (this.fence = fence), fn),
              announceTokens() {},
              announceEnd() {},
              detach() {},
            };
            this.keeper.tabs = /** @type {any} */ (lock);
          }
        }
      }

      /** Adopts `record` where it is newer than what this process holds (the same record as last time is skipped). @param {string | null} record */
      adopt(record) {
        if (record === null || record === this.seen) return;
        this.seen = record;
        this.core.adoptStored(record, Date.now());
        if (!serverStore) this.record = this.core.storedRecord() ?? null;
      }

      /** Forgets it here; requests still holding it finish, and the core's memory goes with the last of them (wasm-bindgen's FinalizationRegistry). */
      drop() {
        if (entries.get(this.sid) === this) entries.delete(this.sid);
      }
    }

    /** The cached entry of `payload`'s session, or a new one. @param {SessionPayload} payload @param {ServerStore | null} store */
    const entryOf = (payload, store) => {
      let entry = entries.get(payload.sid);
      if (entry) {
        entries.delete(payload.sid);
      } else {
        entry = new Entry(payload.sid, payload.createdAt, store);
        while (entries.size >= s.maxCached) entries.values().next().value?.drop();
      }
      entries.set(payload.sid, entry);
      return entry;
    };

    /**
     * The request's session: its opened cookie and this process's entry, with
     * the latest record adopted; null when signed out.
     * @param {Jar} jar
     */
    const current = async (jar) => {
      const text = await open(jar, s.sessionCookie);
      const payload = text === null ? null : rules.openSession(text, Date.now());
      if (!payload) return null;
      let record = payload.record;
      let store = null;
      try {
        store = await storeOf();
        if (store) record = await store.get(payload.sid);
      } catch (e) {
        // The store is down: an error that says so, not a signed-out user.
        throw base.failure('storage', '', String(/** @type {any} */ (e)?.message ?? e));
      }
      if (record === null) {
        entries.get(payload.sid)?.drop();
        return null;
      }
      const entry = entryOf(payload, store);
      entry.adopt(record);
      return { payload, entry };
    };

    /** Sets the session cookie for `entry` (the cookie store: its current record). @param {Jar} jar @param {Entry} entry */
    const writeSession = async (jar, entry) => {
      const record = serverStore ? undefined : entry.core.storedRecord();
      const sealed = serverStore || record ? await seal(s.sessionCookie, rules.sessionPayload(entry.sid, entry.createdAt, record)) : null;
      jar.write(rules.cookieWrites(s.sessionCookie, sealed, jar.header, entry.createdAt, Date.now()));
    };

    /** @param {Jar} jar @param {string | null} list */
    const writeLogins = async (jar, list) => {
      const sealed = list === null ? null : await seal(s.loginCookie, list);
      jar.write(rules.cookieWrites(s.loginCookie, sealed, jar.header, undefined, Date.now()));
    };

    /** The pending logins of one request, as RedirectLogin reads and writes them. @param {string | null} list */
    const loginOf = (list) => {
      const box = { list, changed: false };
      const pending = {
        read: () => box.list,
        /** @param {string | null} l */
        write: (l) => {
          box.list = l;
          box.changed = true;
        },
      };
      return { box, pending };
    };

    /** A fresh set of the headers every answer of this layer carries (the core's). */
    const answerHeaders = () => new Headers(s.answerHeaders);

    /** @param {number} status @param {Headers} headers @param {unknown} [body] */
    const respond = (status, headers, body) => {
      if (body !== undefined) headers.set('content-type', 'application/json');
      return new Response(body === undefined ? null : JSON.stringify(body), { status, headers });
    };

    /** @param {unknown} e */
    const errorBody = (e) => {
      const error = /** @type {any} */ (e);
      return { error: typeof error?.code === 'string' ? error.code : null, message: String(error?.message ?? error) };
    };

    /** GET /auth/login?returnTo=/path: to the provider, the pending login in a sealed cookie. @param {Jar} jar @param {Headers} headers @param {URL} url */
    const login = async (jar, headers, url) => {
      const { box, pending } = loginOf(await open(jar, s.loginCookie));
      const redirect = new RedirectLogin(base, settings, provider, /** @type {any} */ (null), pending);
      const returnTo = url.searchParams.get('returnTo') ?? undefined;
      const target = await redirect.authorizeUrl({ redirectUri: s.redirectUri, returnTo, prompt }, signals);
      await writeLogins(jar, box.list);
      headers.set('location', target);
      return respond(s.redirectStatus, headers);
    };

    /** A session being signed in: kept (stored, cached, its cookie set) once its login completes, else discarded. */
    const newSession = async () => {
      const store = await storeOf();
      const sid = rules.sessionId(crypto.getRandomValues(new Uint8Array(s.sessionIdBytes)));
      const entry = new Entry(sid, Date.now(), store);
      const keeper = entry.keeper;
      return {
        entry,
        core: entry.core,
        discard: () => keeper.dispose(),
        /** The core's new tokens into the store, under the session's lock (the redirect login does this itself). */
        adopt: () => (keeper.tabs ? keeper.tabs.withLock(() => keeper.adopted()) : keeper.adopted()),
        /** @param {Jar} jar */
        keep: async (jar) => {
          await writeSession(jar, entry);
          entries.set(sid, entry);
        },
      };
    };

    /** GET /auth/callback: the core's checks, the code exchange, the ID token, then the session cookie. @param {Jar} jar @param {Headers} headers @param {Request} request */
    const callback = async (jar, headers, request) => {
      const { box, pending } = loginOf(await open(jar, s.loginCookie));
      const fresh = await newSession();
      const redirect = new RedirectLogin(fresh.core, settings, provider, fresh.entry.keeper, pending);
      let session;
      try {
        session = await redirect.handleCallback(request.url, fresh.entry.keeper.signals());
      } catch (e) {
        fresh.discard();
        if (box.changed) await writeLogins(jar, box.list);
        // A provider that could not be reached is a 502; a refused callback a 400.
        return respond(rules.failureStatus(/** @type {any} */ (e)?.code), headers, errorBody(e));
      }
      if (box.changed) await writeLogins(jar, box.list);
      await fresh.keep(jar);
      headers.set('location', rules.returnUrl(session.returnTo ?? undefined));
      return respond(s.redirectStatus, headers);
    };

    /** POST /auth/logout?returnTo=/path: revokes, forgets, and on to the provider's logout where it has one. @param {Jar} jar @param {Headers} headers @param {URL} url */
    const logout = async (jar, headers, url) => {
      // The cookies go first: nothing that fails below keeps the browser signed in.
      jar.write(rules.cookieWrites(s.sessionCookie, null, jar.header, undefined, Date.now()));
      let found = null;
      try {
        found = await current(jar);
      } catch (e) {
        // The store is down: its record, under an id the browser no longer holds, expires by itself.
        console.error(base.failure('logout_store', '', errorBody(e).message));
      }
      const back = rules.returnUrl(url.searchParams.get('returnTo') ?? undefined);
      let target = back;
      if (found) {
        const idToken = found.entry.core.idToken();
        await found.entry.keeper.logout().catch(() => false);
        found.entry.drop();
        found.entry.keeper.dispose();
        const redirect = new RedirectLogin(base, settings, provider, /** @type {any} */ (null));
        target = (await redirect.logoutUrl(idToken, back, signals)) ?? back;
      }
      headers.set('location', target);
      return respond(s.redirectStatus, headers);
    };

    const device = deviceRoutes({
      base,
      provider,
      rules,
      s,
      settings,
      signals,
      freshCore: () => new ClientCore(o),
      open,
      seal,
      respond,
      errorBody,
      newSession,
    });

    /**
     * The answer of the route the core chose. A provider that cannot be
     * reached is a coded answer, not a crash.
     * @param {DispatchStep} step @param {Request} request @param {URL} url @param {Headers} headers
     */
    const serve = async (step, request, url, headers) => {
      if (step.t === 'refuse') {
        if (step.allow) headers.set('allow', step.allow);
        return respond(step.status, headers, step.error ? errorBody(step.error) : undefined);
      }
      // A bare answer sets no cookie.
      const jar = requestJar(request, step.bare ? undefined : headers);
      try {
        switch (step.route) {
          case 'login':
            return await login(jar, headers, url);
          case 'callback':
            return await callback(jar, headers, request);
          case 'logout':
            return await logout(jar, headers, url);
          case 'device':
            return await device.read(jar, headers);
          case 'deviceStart':
            return await device.start(jar, headers);
          case 'devicePoll':
            return await device.poll(jar, headers);
          case 'deviceCancel':
            return await device.cancel(jar, headers);
        }
        return respond(404, headers);
      } catch (e) {
        return respond(s.failedStatus, headers, errorBody(e));
      }
    };

    /**
     * The handlers, GET and POST (Next.js hands a HEAD to GET): the core
     * says which route serves the request, and refuses a wrong method or a
     * POST from another origin. A bare answer (a HEAD) has the status and
     * headers, not the body.
     * @param {Request} request
     */
    const handle = async (request) => {
      const url = new URL(request.url);
      const step = rules.dispatch(request.method, url.pathname, request.headers.get('origin') ?? undefined);
      const res = await serve(step, request, url, answerHeaders());
      return step.bare ? new Response(null, { status: res.status, headers: res.headers }) : res;
    };

    /**
     * The request's cookies, else Next.js's; outside Next.js the error says to pass the request.
     * @param {'auth' | 'getAccessToken' | 'fetchApi'} call @param {Request | undefined} request @param {Headers | undefined} headers
     */
    const jarOf = (call, request, headers) => {
      if (request) return Promise.resolve(requestJar(request, headers));
      return nextJar((e) => {
        const error = rules.outsideNext(call, String(/** @type {any} */ (e)?.message ?? e));
        error.cause = e;
        return error;
      });
    };

    /** @param {Request} [request] @returns {Promise<MeshServerSession | null>} */
    const auth = async (request) => {
      const found = await current(await jarOf('auth', request, undefined));
      const info = found?.entry.core.serverSession(Date.now());
      if (!found || !info) return null;
      return { ...info, sessionExpiresAt: found.payload.expiresAt };
    };

    /**
     * The request's session with a usable access token (refreshed by the
     * core's policy, once per session in this process; under the store's
     * lock across processes); a session that no longer signs in loses its
     * cookie. @param {Jar} jar
     */
    const signedIn = async (jar) => {
      const found = await current(jar);
      if (!found) throw base.failure('signed_out');
      const { entry } = found;
      try {
        return { ...found, ready: await entry.keeper.accessToken() };
      } catch (e) {
        if (!entry.core.serverSession(Date.now())) {
          entry.drop();
          jar.write(rules.cookieWrites(s.sessionCookie, null, jar.header, undefined, Date.now()));
        }
        throw e;
      }
    };

    /** A refresh rewrites the cookie store's cookie. @param {Jar} jar @param {{ entry: Entry, payload: SessionPayload }} found */
    const keepRecord = async (jar, { entry, payload }) => {
      if (!serverStore && entry.core.storedRecord() !== payload.record) await writeSession(jar, entry);
    };

    /**
     * A usable access token. A refresh rewrites the cookie store's cookie:
     * into `headers` with a request, else through `cookies()`.
     * @param {Request} [request] @param {Headers} [headers]
     */
    const getAccessToken = async (request, headers) => {
      const jar = await jarOf('getAccessToken', request, headers);
      const found = await signedIn(jar);
      await keepRecord(jar, found);
      return found.ready.token;
    };

    /**
     * `input` (a path on `apiUrl`, or a URL on its origin) as the signed-in
     * user, by the client's request policy (a 401 refreshes and retries
     * once). Always a Response: the API's status, body and content type, or
     * `{ error, message }` with the core's status for the failure.
     * @param {string | URL | Request} input @param {RequestInit} [init] @param {{ request?: Request, headers?: Headers }} [options]
     */
    const fetchApi = async (input, init, options) => {
      const { request, headers } = isObject(options) ? options : {};
      try {
        const [url, path] = base.resolveUrl(input);
        const jar = await jarOf('fetchApi', request, headers);
        const found = await signedIn(jar);
        const { entry } = found;
        const [call, signal] = requestOf(url, input, init);
        const authOf = async (/** @type {TokenReady | undefined} */ ready) => bearer(ready ?? (await entry.keeper.accessToken()));
        try {
          const [answer] = await sendApiCall(entry.core, entry.keeper, settings, call, path, entry.keeper.signals(signal), authOf);
          const body = await answer.raw.arrayBuffer();
          answer.stop();
          const type = answer.header('content-type');
          const headers = answerHeaders();
          if (type) headers.set('content-type', type);
          return new Response(body.byteLength ? body : null, { status: answer.status, headers });
        } finally {
          await keepRecord(jar, found);
        }
      } catch (e) {
        return respond(rules.apiFailureStatus(/** @type {any} */ (e)?.code), answerHeaders(), errorBody(e));
      }
    };

    /** Protects the `protect` paths: to the login, or 401 under /api. Edge-safe: reads the cookie only. @param {Request} request */
    const middleware = async (request) => {
      const url = new URL(request.url);
      const text = await open(requestJar(request), s.sessionCookie);
      const payload = text === null ? null : rules.openSession(text, Date.now());
      let signedIn = payload !== null;
      if (payload && !serverStore) {
        const entry = entryOf(payload, null);
        entry.adopt(payload.record);
        signedIn = entry.core.serverSession(Date.now()) !== null;
      }
      const step = rules.guard(url.pathname, url.search, signedIn);
      if (step.t === 'pass') return undefined;
      const headers = answerHeaders();
      if (step.t === 'login') {
        headers.set('location', step.url);
        return new Response(null, { status: step.status, headers });
      }
      return respond(step.status, headers, errorBody(step.error));
    };

    /** A 403 for a state-changing request from another origin, else null (the core's CSRF rule). @param {Request} request */
    const checkOrigin = (request) => {
      const step = rules.checkOrigin(request.method, request.headers.get('origin') ?? undefined);
      return step ? respond(step.status, answerHeaders(), errorBody(step.error)) : null;
    };

    return {
      handlers: { GET: handle, POST: handle },
      auth,
      checkOrigin,
      getAccessToken,
      fetchApi,
      middleware,
      close: async () => {
        lifetime.abort();
        for (const entry of [...entries.values()]) entry.keeper.dispose();
        entries.clear();
        opened.clear();
        const store = await storePromise?.catch(() => null);
        await store?.close?.();
      },
    };
  };
}
