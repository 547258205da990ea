// The client's IO: fetch with a timeout and abort signals, sleeps, storage,
// events and cross-tab coordination. Every decision is the Rust core's
// (`ClientCore`, core.rs): each loop here asks it what to do, does that, and
// feeds the result back. Written in JavaScript because async Rust over
// JsFutures cost about half of the browser build; see mod.rs.
//
// Expiry is checked against Date.now() on every call: timers fire late or
// never after a laptop sleeps or a tab is backgrounded, so no timer is needed
// for correctness. Every loop is bounded (the core's budgets, plus a cap).

const FORM = 'application/x-www-form-urlencoded';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const EVENTS = ['refreshed', 'refreshFailed', 'sessionEnded', 'unauthorized'];
const MAX_TIMER_MS = 2 ** 31 - 1;
// Socket errors (Node's `cause.code`) that mean the request never reached
// the server, so re-sending a rotating refresh token repeats nothing.
const NOT_SENT_CODES = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH'];
const NOT_SENT = ' (not sent)';
// Chromium hands a localStorage write to other tabs' processes apart from the
// Web Lock: in a probe (two tabs, the lock released right after setItem) the
// next holder read the old value in 58 of 100 handoffs, in 1 with a 1 ms
// pause, in none with 20 ms. The old value holds the spent refresh token, so
// a holder that stored new tokens keeps the lock a little longer.
const STORAGE_SETTLE_MS = 50;

/** The one error shape: an Error named MeshError with a stable `code`. */
function meshError(code, message) {
  const error = new Error(message);
  error.name = 'MeshError';
  error.code = code;
  return error;
}

const configError = (option, problem) => meshError('invalid_config', `option \`${option}\`: ${problem}`);

/** A thrown JavaScript value, described without assuming it is an Error. */
function describe(value) {
  if (typeof value === 'string') return value;
  try {
    if (typeof value.message === 'string') return value.message;
  } catch {}
  return 'unknown JavaScript error';
}

const isObject = (v) => v !== null && typeof v === 'object';
const signalOf = (options) => (isObject(options) && options.signal instanceof AbortSignal ? options.signal : undefined);
const timerMs = (ms) => Math.min(Math.max(ms, 0), MAX_TIMER_MS);

/** Throws once a signal fired: `disposed` for the client's lifetime (first), `aborted` for the caller's. */
function check([lifetime, caller]) {
  if (lifetime.aborted) throw meshError('disposed', 'the client was disposed');
  if (caller?.aborted) throw meshError('aborted', 'the operation was aborted by its signal');
}

/** Sleeps `ms`; ends early with `disposed`/`aborted` when a signal fires. No timer or listener outlives it. */
function sleep(ms, signals) {
  return new Promise((resolve, reject) => {
    check(signals);
    const wake = () => {
      clearTimeout(timer);
      for (const s of signals) s?.removeEventListener('abort', wake);
      try {
        check(signals);
        resolve();
      } catch (e) {
        reject(e);
      }
    };
    const timer = setTimeout(wake, timerMs(ms));
    for (const s of signals) s?.addEventListener('abort', wake);
  });
}

/** A request with a method, headers and an optional body. */
function build(method, url, headers, body) {
  try {
    return new Request(url, { method, headers, body });
  } catch (e) {
    throw meshError('invalid_config', `invalid URL: ${describe(e)}`);
  }
}

const formBody = (pairs) => new URLSearchParams(pairs).toString();

/** `JSON.parse`, or undefined for an empty or non-JSON body (a proxy's HTML error page, say). */
function parseJson(text) {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** True when the client's lifetime or the caller's signal ended the work: never retried. */
const stopped = (error) => error?.code === 'disposed' || error?.code === 'aborted';

/** True when `error` is a network failure known to have happened before the request reached the server. */
const neverSent = (error) => error?.code === 'network' && error.message.endsWith(NOT_SENT);

/**
 * Sends `request` (cloned, so it may be sent again) with `headers` on top of
 * its own, within `timeoutMs` unless a signal fires. `what` names it in errors
 * and holds no secret. Resolves once status and headers arrived; the timeout
 * still covers `json()`. `stop()` ends the timeout (the caller's signal keeps
 * covering a Response handed back, through AbortSignal.any).
 */
async function transfer(request, headers, timeoutMs, signals, what) {
  check(signals);
  const timer = new AbortController();
  const handle = setTimeout(() => timer.abort(), timerMs(timeoutMs));
  const watched = signals.filter(Boolean);
  let signal = timer.signal;
  let unlink = () => {};
  if (typeof AbortSignal.any === 'function') {
    signal = AbortSignal.any([...watched, timer.signal]);
  } else {
    const abort = () => timer.abort();
    for (const s of watched) s.addEventListener('abort', abort);
    unlink = () => watched.forEach((s) => s.removeEventListener('abort', abort));
  }
  const stop = () => {
    clearTimeout(handle);
    unlink();
  };
  const failure = (error) => {
    try {
      check(signals);
    } catch (e) {
      return e;
    }
    if (timer.signal.aborted) return meshError('timeout', `${what} timed out after ${timeoutMs} ms`);
    let message = `${what} failed: ${describe(error)}`;
    // Node puts the reason (`connect ECONNREFUSED ...`) in `cause`.
    const cause = isObject(error) ? error.cause : undefined;
    if (isObject(cause)) {
      message += `: ${describe(cause)}`;
      if (NOT_SENT_CODES.includes(cause.code)) message += NOT_SENT;
    }
    return meshError('network', message);
  };
  let outgoing;
  try {
    const merged = new Headers(request.headers);
    for (const [name, value] of headers) merged.set(name, value);
    outgoing = new Request(request.clone(), { signal, headers: merged });
  } catch (e) {
    stop();
    throw meshError('invalid_config', `${what}: ${describe(e)}`);
  }
  let response;
  try {
    response = await fetch(outgoing);
  } catch (e) {
    stop();
    throw failure(e);
  }
  return {
    status: response.status,
    ok: response.ok,
    raw: response,
    stop,
    header: (name) => response.headers.get(name) ?? undefined,
    async json() {
      try {
        return parseJson(await response.text());
      } catch (e) {
        throw failure(e);
      } finally {
        stop();
      }
    },
  };
}

/**
 * Where the session is kept: 'memory' (the default: nothing persisted),
 * 'localStorage' / 'sessionStorage' (only when asked for), or an adapter
 * `{ get, set, remove }` whose methods may return promises. A write calls the
 * adapter before it returns, so writes happen in call order.
 */
function makeStorage(option) {
  if (option === undefined || option === null || option === 'memory') {
    const none = async () => undefined;
    return { memory: true, shared: false, read: none, write: none, remove: none };
  }
  let target;
  let names = ['get', 'set', 'remove'];
  if (typeof option === 'string') {
    if (option !== 'localStorage' && option !== 'sessionStorage') {
      throw configError('storage', "must be 'memory', 'localStorage', 'sessionStorage' or an object with get, set and remove");
    }
    const unavailable = (why) => configError('storage', `'${option}' is not available here: ${why}`);
    try {
      // Reading `localStorage` throws in sandboxed frames and with cookies off.
      target = globalThis[option];
    } catch (e) {
      throw unavailable(describe(e));
    }
    if (!isObject(target)) throw unavailable('this runtime has none');
    names = ['getItem', 'setItem', 'removeItem'];
    if (!names.every((n) => typeof target[n] === 'function')) throw unavailable('not a Storage');
  } else if (isObject(option)) {
    target = option;
    if (!names.every((n) => typeof target[n] === 'function')) throw configError('storage', 'an adapter object needs get, set and remove methods');
  } else {
    throw configError('storage', 'must be a string or an adapter object');
  }
  const [get, set, remove] = names.map((n) => target[n]);
  const settle = (call) => {
    const fail = (e) => meshError('storage', `storage failed: ${describe(e)}`);
    try {
      return Promise.resolve(call()).catch((e) => {
        throw fail(e);
      });
    } catch (e) {
      return Promise.reject(fail(e));
    }
  };
  return {
    memory: false,
    // localStorage: shared by the tabs of an origin.
    shared: option === 'localStorage',
    read: (key) =>
      settle(() => get.call(target, key)).then((v) => {
        if (v === undefined || v === null) return undefined;
        if (typeof v === 'string') return v;
        throw meshError('storage', "the storage adapter's get() returned something other than a string");
      }),
    write: (key, value) => settle(() => set.call(target, key, value)).then(() => {}),
    remove: (key) => settle(() => remove.call(target, key)).then(() => {}),
  };
}

export class Driver {
  constructor(core, storage) {
    this.core = core;
    this.s = core.settings();
    this.storage = makeStorage(storage);
    // true once the stored session was read; a promise while it is read.
    this.load = this.storage.memory ? true : null;
    // The refresh in flight, shared by every waiter of this realm.
    this.inflight = null;
    this.endpointsFound = null;
    this.handlers = [];
    // Aborted by dispose(): ends every request, sleep and poll.
    this.lifetime = new AbortController();
    this.keys = {
      list: () => this.listKeys(),
      create: (name) => this.createKey(name),
      revoke: (id) => this.revokeKey(id),
    };
    this.tabs = this.storage.shared ? new Tabs(this) : null;
  }

  alive() {
    check([this.lifetime.signal]);
  }

  oauthOnly(what) {
    if (this.s.apiKeyMode) throw meshError('invalid_config', `${what} is not available in API-key mode`);
  }

  signals(caller) {
    return [this.lifetime.signal, caller];
  }

  // ---- events -------------------------------------------------------------

  on(name, handler) {
    if (!EVENTS.includes(name)) throw configError('event', 'must be one of refreshed, refreshFailed, sessionEnded, unauthorized');
    if (typeof handler !== 'function') throw configError('handler', 'must be a function');
    const entry = [name, handler];
    // A new array: an emit under way goes on over the list it started with,
    // so a handler added meanwhile is called from the next emit on.
    this.handlers = [...this.handlers, entry];
    return () => {
      this.handlers = this.handlers.filter((h) => h !== entry);
    };
  }

  /** Calls each handler of `name`; one that throws stops neither the others nor the SDK. */
  emit(name, payload) {
    for (const [n, f] of this.handlers) {
      if (n !== name) continue;
      try {
        f(payload);
      } catch {}
    }
  }

  emitEnded(reason, error) {
    const payload = { reason };
    if (error) payload.error = error;
    this.emit('sessionEnded', payload);
  }

  dispose() {
    this.lifetime.abort();
    this.handlers = [];
    this.tabs?.detach();
  }

  // ---- the session --------------------------------------------------------

  getSession() {
    return this.core.sessionInfo();
  }

  exportEnv() {
    return this.core.exportEnv();
  }

  setSession(session) {
    this.alive();
    this.oauthOnly('setSession()');
    this.core.setSession(session);
    this.load = true;
    this.persist();
    this.tabs?.announceTokens();
  }

  fromEnv(env) {
    this.oauthOnly('fromEnv()');
    if (this.core.fromEnv(env)) this.load = true;
  }

  /** Loads the stored session on first use, once for concurrent callers. A session set meanwhile wins. */
  async ensureLoaded() {
    while (this.load !== true) {
      if (this.load) {
        await this.load;
        continue;
      }
      let done;
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

  /** What storage holds now, for shared storage only (another tab may have refreshed); errors read as nothing. */
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

  async getAccessToken() {
    this.oauthOnly('getAccessToken()');
    return (await this.accessToken()).token;
  }

  /** A usable token `{ token, generation, received, expires }`: the core decides, this does the IO. */
  async accessToken() {
    this.alive();
    await this.ensureLoaded();
    return this.drive(this.core.getToken(Date.now()));
  }

  /** After the API rejected a token of generation `stale`. */
  forceRefresh(stale) {
    this.alive();
    return this.drive(this.core.forceRefresh(stale, Date.now()));
  }

  async drive(step) {
    // Each round returns or waits for one refresh; a few rounds cover a
    // refresh that ends just as a token becomes due again.
    for (let round = 0; round < 4; round++) {
      switch (step.t) {
        case 'ready':
          return step;
        case 'start':
          this.startRefresh();
        // fall through: the starter waits like everyone else
        case 'join':
          await this.inflight;
          break;
        case 'ended':
          if (!(await this.sessionEnded('expired', step.error))) throw step.error;
          break;
        default:
          throw step.error;
      }
      this.alive();
      step = this.core.getToken(Date.now());
    }
    throw meshError('refresh_failed', 'no usable access token after refreshing');
  }

  /** Starts the one refresh: its promise resolves when a token is usable and rejects with the failure every waiter shares. */
  startRefresh() {
    const run = () => (this.storage.shared ? this.tabs.withLock(() => this.refreshLocked()) : this.refreshLocked());
    const task = Promise.resolve()
      .then(run)
      .finally(() => {
        if (this.inflight === task) this.inflight = null;
      });
    this.inflight = task;
  }

  /** The refresh, run holding the cross-tab lock where there is one. */
  async refreshLocked() {
    const core = this.core;
    let step = core.beforeSend(await this.readShared(), Date.now());
    if (step.t === 'skip') {
      // Another tab stored fresh tokens: use them.
      this.emit('refreshed', core.sessionInfo());
      return;
    }
    if (step.t === 'ended') {
      if (await this.sessionEnded('expired', step.error)) return;
      throw step.error;
    }
    const signals = this.signals();
    // The core allows `maxRefreshRetries` retries within `timeoutMs`; the cap is a backstop.
    for (let attempt = 0; attempt < 100; attempt++) {
      let outcome;
      let endpoints;
      try {
        endpoints = await this.endpoints(signals);
      } catch (e) {
        if (stopped(e)) {
          core.abandonRefresh(false);
          throw e;
        }
        // Discovery failed: the refresh token was never sent.
        outcome = core.onNetworkError(false, Date.now(), Math.random());
      }
      if (endpoints) {
        const params = [...this.baseParams(), ['grant_type', 'refresh_token'], ['refresh_token', step.refreshToken]];
        try {
          const timeout = core.attemptTimeout(Date.now());
          const a = await this.postForm(endpoints.token, params, timeout, signals, 'token request');
          outcome = core.onTokenResponse(a.status, a.body, a.retryAfter, Date.now(), Math.random());
        } catch (e) {
          if (stopped(e)) {
            core.abandonRefresh(!neverSent(e));
            throw e;
          }
          outcome = e?.code === 'timeout' ? core.onTimeout(Date.now(), Math.random()) : core.onNetworkError(!neverSent(e), Date.now(), Math.random());
        }
      }
      switch (outcome.t) {
        case 'wait':
          try {
            await sleep(outcome.ms, signals);
          } catch (e) {
            core.abandonRefresh(false);
            throw e;
          }
          // The same token again, or a newer one another tab stored meanwhile.
          step = core.beforeSend(await this.readShared(), Date.now());
          if (step.t === 'skip') return;
          if (step.t === 'ended') throw step.error;
          break;
        case 'done':
          await this.persist();
          this.tabs?.announceTokens();
          this.emit('refreshed', core.sessionInfo());
          return;
        case 'failed':
          this.emit('refreshFailed', { error: outcome.error });
          if (outcome.valid) return;
          throw outcome.error;
        default:
          if (await this.sessionEnded('invalid_grant', outcome.error)) return;
          throw outcome.error;
      }
    }
    core.abandonRefresh(true);
    throw meshError('refresh_failed', 'the refresh was retried too often');
  }

  /**
   * The core ended the session. A newer session another tab stored is adopted
   * instead (true: ask the core again). Otherwise storage is cleared, other
   * tabs are told, and `sessionEnded` fires (false).
   */
  async sessionEnded(reason, error) {
    if (this.storage.shared && this.core.adoptStored(await this.readShared(), Date.now())) return true;
    await this.storage.remove(this.s.storageKey).catch(() => {});
    this.tabs?.announceEnd(reason);
    this.emitEnded(reason, error);
    return false;
  }

  async logout() {
    this.alive();
    if (this.s.apiKeyMode) return;
    await this.ensureLoaded();
    // Let a refresh in flight settle, so the token revoked is the latest.
    await this.inflight?.catch(() => {});
    const refreshToken = this.core.clear();
    this.load = true;
    await this.storage.remove(this.s.storageKey).catch(() => {});
    this.tabs?.announceEnd('logout');
    if (refreshToken !== undefined) await this.revoke(refreshToken).catch(() => {});
    this.emitEnded('logout');
  }

  // ---- the provider -------------------------------------------------------

  /** The provider's endpoints, from OIDC discovery once per client; a failed discovery is tried again next time. */
  async endpoints(signals) {
    if (this.endpointsFound) return this.endpointsFound;
    const issuer = this.s.issuer;
    const request = build('GET', `${issuer}/.well-known/openid-configuration`, { Accept: 'application/json' });
    const response = await transfer(request, [], this.s.timeoutMs, signals, 'OIDC discovery');
    if (!response.ok) {
      response.stop();
      throw meshError('http_error', `OIDC discovery failed: HTTP ${response.status}`);
    }
    const doc = await response.json();
    if (doc === undefined) throw meshError('invalid_response', 'OIDC discovery returned no JSON document');
    const field = (name) => {
      const v = isObject(doc) ? doc[name] : undefined;
      return typeof v === 'string' && (v.startsWith('https://') || v.startsWith('http://')) ? v : undefined;
    };
    // RFC 8414 §3.3: the document must name the issuer it was fetched for.
    const named = isObject(doc) && typeof doc.issuer === 'string' ? doc.issuer : '';
    if (named.replace(/\/+$/, '') !== issuer) throw meshError('invalid_response', 'OIDC discovery document names another issuer');
    const token = field('token_endpoint');
    if (!token) throw meshError('invalid_response', 'OIDC discovery document has no token_endpoint');
    this.endpointsFound = { token, device: field('device_authorization_endpoint'), revocation: field('revocation_endpoint') };
    return this.endpointsFound;
  }

  /** `client_id`, and the API as `audience` (Auth0) and `resource` (RFC 8707, as oidc-provider wants it). */
  baseParams() {
    const params = [['client_id', this.s.clientId ?? '']];
    if (this.s.audience) params.push(['audience', this.s.audience], ['resource', this.s.audience]);
    return params;
  }

  /** POSTs a form; `{ status, body, retryAfter }` with `body` parsed JSON or undefined. */
  async postForm(url, params, timeoutMs, signals, what) {
    const request = build('POST', url, { 'Content-Type': FORM, Accept: 'application/json' }, formBody(params));
    const response = await transfer(request, [], timeoutMs, signals, what);
    const retryAfter = response.header('retry-after');
    return { status: response.status, retryAfter, body: await response.json() };
  }

  /** RFC 7009: revokes `refreshToken` where the provider advertises a revocation endpoint. */
  async revoke(refreshToken) {
    const signals = this.signals();
    const endpoints = await this.endpoints(signals);
    if (!endpoints.revocation) return false;
    const params = [['client_id', this.s.clientId ?? ''], ['token', refreshToken], ['token_type_hint', 'refresh_token']];
    const answer = await this.postForm(endpoints.revocation, params, this.s.timeoutMs, signals, 'token revocation');
    return answer.status >= 200 && answer.status < 300;
  }

  // ---- device login (RFC 8628) --------------------------------------------

  async startDeviceLogin(options) {
    this.oauthOnly('startDeviceLogin()');
    this.alive();
    const signals = this.signals(signalOf(options));
    const endpoints = await this.endpoints(signals);
    if (!endpoints.device) throw configError('issuer', 'the provider does not advertise a device_authorization_endpoint');
    const params = this.baseParams();
    if (this.s.scope) params.push(['scope', this.s.scope]);
    const answer = await this.postForm(endpoints.device, params, this.s.timeoutMs, signals, 'device authorization request');
    // The device code stays in the core; the login object carries no secret.
    return this.core.deviceStarted(answer.status, answer.body, Date.now());
  }

  /** Polls until the user approves; the tokens go straight into the session. */
  async completeDeviceLogin(login, options) {
    this.oauthOnly('completeDeviceLogin()');
    this.alive();
    const [userCode, deviceCode] = this.core.deviceBegin(login);
    let session;
    try {
      session = await this.poll(userCode, deviceCode, this.signals(signalOf(options)));
    } catch (e) {
      // An aborted login may be completed again; any other end is final.
      this.core.deviceEnd(userCode, e?.code === 'aborted');
      throw e;
    }
    this.load = true;
    await this.persist();
    this.tabs?.announceTokens();
    return session;
  }

  async poll(userCode, deviceCode, signals) {
    const core = this.core;
    const endpoints = await this.endpoints(signals);
    const params = [...this.baseParams(), ['grant_type', DEVICE_GRANT], ['device_code', deviceCode]];
    // Each round sleeps at least the interval (>= 1 s) until the code's
    // expiry, so the poller bounds the loop; the cap is a backstop.
    for (let round = 0; round < 100000; round++) {
      let step = core.devicePoll(userCode, Date.now());
      if (step.t === 'send') {
        let answer;
        try {
          answer = await this.postForm(endpoints.token, params, this.s.timeoutMs, signals, 'device token request');
        } catch (e) {
          if (stopped(e)) throw e;
        }
        step = answer
          ? core.deviceAnswer(userCode, answer.status, answer.body, answer.retryAfter, Date.now())
          : core.deviceNetworkError(userCode, Date.now());
        if (step.t === 'done') return step.session;
      }
      await sleep(step.ms, signals);
    }
    throw meshError('device_code_expired', 'the device login gave up after too many polls');
  }

  // ---- API calls ----------------------------------------------------------

  /** The credential header and what the core records of it. */
  async auth(ready) {
    if (this.s.apiKeyMode) return { header: 'X-API-Key', value: this.s.apiKey, credential: {} };
    ready ??= await this.accessToken();
    const credential = { generation: ready.generation, received: ready.received ?? Date.now(), expires: ready.expires ?? null };
    return { header: 'Authorization', value: `Bearer ${ready.token}`, credential };
  }

  /**
   * Sends `request` with the client's credential, following the core's
   * request policy: return, refresh once and retry once (401, or 404 when so
   * configured), retry an idempotent request after a transient failure, or
   * fail with context. Resolves with `[response, call]`.
   */
  async send(request, path, signal) {
    this.alive();
    const signals = this.signals(signal);
    let auth = await this.auth();
    const now = Date.now();
    const call = { method: request.method, path, started: now, sent: now, auth: 0, transient: 0 };
    // At most one auth retry plus `maxRequestRetries` transient ones; the cap is a backstop.
    for (let attempt = 0; attempt < 16; attempt++) {
      call.sent = Date.now();
      Object.assign(call, auth.credential);
      let response;
      let error;
      try {
        response = await transfer(request, [[auth.header, auth.value]], this.s.timeoutMs, signals, 'API request');
      } catch (e) {
        if (e?.code === 'disposed') throw e;
        error = e;
      }
      const outcome = response ? response.status : ['timeout', 'aborted'].includes(error?.code) ? error.code : 'network';
      const decision = this.core.decide(call, outcome, response?.header('retry-after'), Date.now(), Math.random());
      if (decision.t === 'return') {
        if (error) throw error;
        return [response, call];
      }
      response?.stop();
      switch (decision.t) {
        case 'refresh':
          auth = await this.auth(await this.forceRefresh(decision.stale));
          call.auth++;
          break;
        case 'current':
          auth = await this.auth();
          call.auth++;
          break;
        case 'wait':
          await sleep(decision.ms, signals);
          if (!this.s.apiKeyMode) auth = await this.auth();
          call.transient++;
          break;
        default: {
          const failed = decision.error;
          if (error) failed.cause = error;
          if (failed.code === 'unauthorized') {
            const ctx = failed.context;
            const payload = ctx ? { method: ctx.method, path: ctx.path, status: ctx.status ?? null } : {};
            payload.error = failed;
            this.emit('unauthorized', payload);
          }
          throw failed;
        }
      }
    }
    throw meshError('http_error', 'the request was retried too often');
  }

  /** `client.fetch(input, init)`: the real Response. */
  async fetch(input, init) {
    const [url, path] = this.core.resolveUrl(input);
    const request = isObject(init) ? new Request(url, init) : new Request(url);
    const [response] = await this.send(request, path, signalOf(init));
    // The timeout ends here: reading the body is governed by the caller's signal.
    response.stop();
    return response.raw;
  }

  /** A JSON call: the parsed body on 2xx, else an `http_error` with context (never the token). */
  async callJson(method, input, body) {
    const [url, path] = this.core.resolveUrl(input);
    const json = body === undefined ? undefined : JSON.stringify(body);
    const headers = { Accept: 'application/json' };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    const [response, call] = await this.send(build(method, url, headers, json), path);
    if (response.ok) return (await response.json()) ?? null;
    response.stop();
    throw this.core.httpError(call, response.status, Date.now());
  }

  async chat(message) {
    if (typeof message !== 'string') throw configError('message', 'must be a string');
    return this.callJson('POST', '/api/v1/chat', { message });
  }

  async listKeys() {
    const body = await this.callJson('GET', '/api/v1/keys');
    return Array.isArray(body?.keys) ? body.keys : body;
  }

  async createKey(name) {
    if (typeof name !== 'string' || name.trim() === '') throw configError('name', 'must be a non-empty string');
    return this.callJson('POST', '/api/v1/keys', { name });
  }

  async revokeKey(id) {
    if (typeof id !== 'string' || id === '') throw configError('id', 'must be a non-empty string');
    await this.callJson('DELETE', `/api/v1/keys/${encodeURIComponent(id)}`);
  }

  /** `GET /auth/validate`; when the route is missing (404) or the server cannot be reached, the token's expiry is checked locally. */
  async validate() {
    let body;
    try {
      body = await this.callJson('GET', '/auth/validate');
    } catch (e) {
      const code = isObject(e) && typeof e.code === 'string' ? e.code : '';
      if (code === 'unauthorized') return { valid: false, source: 'server', error: e };
      const fallback = code === 'network' || code === 'timeout' || e?.status === 404;
      if (!fallback || this.s.apiKeyMode) throw e;
      await this.ensureLoaded();
      const result = this.core.sessionInfo() ?? {};
      result.valid = this.core.validLocally(Date.now());
      result.source = 'local';
      return result;
    }
    const result = isObject(body) ? body : {};
    if (result.valid === undefined) result.valid = true;
    result.source = 'server';
    return result;
  }
}

/**
 * Cross-tab coordination in browsers, for sessions kept in localStorage (the
 * only storage the tabs of an origin share).
 *
 * - One refresh for all tabs: it runs under the Web Lock `<storage key>`. The
 *   browser releases the lock of a tab closed mid-refresh. Under the lock the
 *   holder re-reads storage first and adopts tokens another tab stored, so a
 *   refresh token is never spent twice.
 * - Without Web Locks, a lease in localStorage (`<key>:lock` = `owner|until`),
 *   written, left to settle and read back, serves as the lock. It is given
 *   back on `pagehide`, and a crashed holder's lease lapses `timeoutMs + 5 s`
 *   after it was taken. It is not atomic: two tabs whose writes cross within
 *   the settle delay could both hold it (the re-read under it narrows that).
 * - News travels over BroadcastChannel `<key>`: `tokens` (re-read storage and
 *   adopt; tokens never go over the channel) and `ended` (logout or a dead
 *   grant ends the session in every tab). `storage` events on the session key
 *   say the same where BroadcastChannel is missing.
 * - Sleeping tabs run timers late, so the session is re-read on
 *   `visibilitychange`, `pageshow` and `online`.
 * - Waiting for the lock is bounded (`3 * timeoutMs`): past that the tab goes
 *   on without it (re-reading storage first) rather than hang.
 */
class Tabs {
  constructor(driver) {
    this.driver = driver;
    this.key = driver.s.storageKey;
    // The localStorage lease this tab holds: [key, owner].
    this.lease = null;
    // Set when this tab stored new tokens (see settleAfterWrite).
    this.wrote = false;
    this.unlisten = [];
    const listen = (target, event, f) => {
      const handler = (e) => {
        if (!driver.lifetime.signal.aborted) f(e);
      };
      target.addEventListener(event, handler);
      this.unlisten.push(() => target.removeEventListener(event, handler));
    };
    if (typeof BroadcastChannel === 'function') {
      try {
        this.channel = new BroadcastChannel(this.key);
        listen(this.channel, 'message', ({ data }) => {
          if (data?.type === 'tokens') this.recheck();
          else if (data?.type === 'ended') this.endedElsewhere(data.reason);
        });
      } catch {}
    }
    const global = globalThis;
    if (typeof global.addEventListener === 'function') {
      for (const event of ['pageshow', 'online']) listen(global, event, () => this.recheck());
      // Browsers without BroadcastChannel still see the session key change.
      listen(global, 'storage', (e) => {
        if (e.key !== this.key) return;
        if (e.newValue === null) this.endedElsewhere();
        else this.recheck();
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
    const d = this.driver;
    if (d.inflight) return;
    const stored = await d.readShared();
    if (!d.inflight && d.core.adoptStored(stored, Date.now())) d.emit('refreshed', d.core.sessionInfo());
  }

  /** Another tab logged out or saw the grant die. */
  endedElsewhere(reason) {
    const error = this.driver.core.endedElsewhere();
    if (error !== undefined) this.driver.emitEnded(typeof reason === 'string' && reason ? reason : 'ended_elsewhere', error);
  }

  post(type, reason) {
    const message = { type };
    if (reason !== undefined) message.reason = reason;
    try {
      this.channel?.postMessage(message);
    } catch {}
  }

  /** Tells the other tabs that new tokens are in storage. */
  announceTokens() {
    this.wrote = true;
    this.post('tokens');
  }

  announceEnd(reason) {
    this.post('ended', reason);
  }

  async settleAfterWrite() {
    if (!this.wrote) return;
    this.wrote = false;
    await sleep(STORAGE_SETTLE_MS, this.driver.signals()).catch(() => {});
  }

  /** Runs `task` holding the cross-tab lock. */
  async withLock(task) {
    const d = this.driver;
    const waitMs = d.s.timeoutMs * 3;
    const locks = globalThis.navigator?.locks;
    if (!isObject(locks)) return this.withLease(waitMs, task);
    // Bounded wait: past it, go on without the lock (the refresh re-reads
    // storage first) instead of surfacing a lock error.
    const giveUp = new AbortController();
    const timer = setTimeout(() => giveUp.abort(), timerMs(waitMs));
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
        if (pending && e?.name === 'AbortError') return await runUnlocked();
        throw e;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** The fallback lock: a lease in localStorage. */
  async withLease(waitMs, task) {
    const d = this.driver;
    const key = `${this.key}:lock`;
    const me = String(Math.floor(Math.random() * 9e15));
    const signals = d.signals();
    const giveUpAt = Date.now() + waitMs;
    let held = false;
    // Bounded by giveUpAt; every round sleeps at least 50 ms.
    while (Date.now() < giveUpAt) {
      const [owner, until] = await this.readLease(key);
      if (owner !== undefined && owner !== me && until > Date.now()) {
        await sleep(50 + Math.floor(Math.random() * 100), signals);
        continue;
      }
      // The holder's refresh ends within timeoutMs (its attempts share that
      // budget); the margin covers storing the result.
      await d.storage.write(key, `${me}|${Date.now() + d.s.timeoutMs + 5000}`).catch(() => {});
      // Let racing tabs' writes land, then see who won.
      await sleep(100, signals);
      if ((await this.readLease(key))[0] === me) {
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
    if (typeof current === 'string' && current.split('|')[0] === me) this.driver.storage.remove(key).catch(() => {});
  }

  async readLease(key) {
    let value;
    try {
      value = await this.driver.storage.read(key);
    } catch {}
    if (value === undefined) return [undefined, 0];
    const bar = value.indexOf('|');
    if (bar < 0) return [value, 0];
    const until = value.slice(bar + 1);
    return [value.slice(0, bar), /^[+-]?\d+$/.test(until) ? Number(until) : 0];
  }
}
