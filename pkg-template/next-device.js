// mesh-sdk/next's device login (RFC 8628), run by the server: the browser
// asks the app's routes, the app asks the provider, and the device code
// stays on the server (in a sealed, httpOnly cookie, as the pending
// redirect login does). The rules are the client's own: the poller
// (interval, slow_down, expiry, src/client/device.rs) is resumed from the
// cookie on each request and allows at most one token request per request;
// the states and statuses are the core's (src/client/server_session.rs).
//
//   GET  /auth/device         the pending login ({ login } or { login: null }), for a reloaded page
//   POST /auth/device         starts one: { login } (user code, verification URIs, expiry, interval)
//   POST /auth/device/poll    { state: 'pending', retryAfterMs } | { state: 'complete' } (the session
//                             cookie is set, as /auth/callback sets it) | { state, error, message } once ended
//   POST /auth/device/cancel  forgets it here

import { verifySignature } from './redirect.js';

/** @import { ServerClientCore, ServerRules, ServerSettings, CookieWrite, Endpoints, Settings } from './steps.js' */
/** @import { Signals } from './transfer.js' */
/** @import { Provider } from './provider.js' */
/** @import { DeviceLogin } from './index.js' */

/**
 * What the device routes use of createMeshAuth's closure.
 * @typedef {{
 *   base: ServerClientCore, provider: Provider, rules: ServerRules, s: ServerSettings, settings: Settings, signals: Signals,
 *   freshCore(): ServerClientCore,
 *   open(jar: Jar, name: string): Promise<string | null>,
 *   seal(name: string, plaintext: string): Promise<string>,
 *   respond(status: number, headers: Headers, body?: unknown): Response,
 *   errorBody(e: unknown): { error: string | null, message: string },
 *   newSession(): Promise<{ core: ServerClientCore, discard(): void, adopt(): Promise<void>, keep(jar: Jar): Promise<void> }>,
 * }} DeviceContext
 * @typedef {{ header: string, write(writes: CookieWrite[]): void }} Jar
 */

/** @param {DeviceContext} c */
export function deviceRoutes(c) {
  const { rules, s } = c;

  /** @param {Jar} jar @param {string | null | undefined} record */
  const writePending = async (jar, record) => {
    const sealed = record == null ? null : await c.seal(s.deviceCookie, record);
    jar.write(rules.cookieWrites(s.deviceCookie, sealed, jar.header, undefined, Date.now()));
  };

  /** The pending login, known again to `core`; null when there is none or it can no longer complete. @param {Jar} jar @param {ServerClientCore} core @returns {Promise<DeviceLogin | null>} */
  const restore = async (jar, core) => {
    const record = await c.open(jar, s.deviceCookie);
    return (record === null ? undefined : core.deviceRestore(record, Date.now())) ?? null;
  };

  /** @param {Jar} jar @param {Headers} headers */
  const read = async (jar, headers) => {
    const login = await restore(jar, c.freshCore());
    if (!login && rules.readCookie(jar.header, s.deviceCookie) !== undefined) await writePending(jar, null);
    return c.respond(200, headers, { login });
  };

  /** @param {Jar} jar @param {Headers} headers */
  const start = async (jar, headers) => {
    const login = await c.provider.startDeviceLogin(c.signals);
    // The record (device code included) goes to the cookie; the shared core forgets it.
    await writePending(jar, c.base.deviceCancel(login));
    return c.respond(200, headers, { login });
  };

  /**
   * Polls in flight in this process, by the pending cookie they read: a
   * second poll of one login (two tabs, React StrictMode's double effect)
   * gets the first one's answer and cookies instead of a token request of
   * its own, which would break the interval or, once the first has spent
   * the code, answer "failed" for a login that completed.
   * @type {Map<string, Promise<{ status: number, body: unknown, writes: CookieWrite[] }>>}
   */
  const polling = new Map();

  /** @param {Jar} jar @param {Headers} headers */
  const poll = async (jar, headers) => {
    const key = rules.readCookie(jar.header, s.deviceCookie);
    let answer = key === undefined ? undefined : polling.get(key);
    if (!answer) {
      /** @type {CookieWrite[]} */
      const writes = [];
      answer = pollLogin({ header: jar.header, write: (w) => writes.push(...w) }).then((a) => ({ ...a, writes }));
      if (key !== undefined) {
        polling.set(key, answer);
        answer.then(() => polling.delete(key), () => polling.delete(key));
      }
    }
    const { status, body, writes } = await answer;
    jar.write(writes);
    return c.respond(status, headers, body);
  };

  /** One poll of the jar's pending login: the answer; its cookies go to `jar`. @param {Jar} jar @returns {Promise<{ status: number, body: unknown }>} */
  const pollLogin = async (jar) => {
    const session = await c.newSession();
    const core = session.core;
    const login = await restore(jar, core);
    if (!login) {
      session.discard();
      await writePending(jar, null);
      return { status: s.refusedStatus, body: c.errorBody(core.failure('no_device_login')) };
    }
    const [userCode, deviceCode] = core.deviceBegin(login);
    /** @type {Endpoints} */
    const endpoints = await c.provider.endpoints(c.signals);
    let polled;
    try {
      polled = await c.provider.pollOnce(core, userCode, deviceCode, endpoints, c.signals);
      if (polled.session) {
        // An ID token in the answer gets the redirect login's checks (but the
        // nonce, which the device grant never sends); a refused one ends the login.
        const jwks = await c.provider.jwks(endpoints, c.signals);
        const idTokens = core.redirectCore();
        const check = idTokens.deviceIdTokenCheck(polled.body, jwks);
        if (check) {
          // Throws unless the signature verified and the claims hold; only then is it kept.
          idTokens.deviceIdToken(check.idToken, await verifySignature(check), Date.now());
          core.keepIdToken(check.idToken);
        }
      }
    } catch (e) {
      session.discard();
      await writePending(jar, null);
      const end = rules.deviceEnd(/** @type {any} */ (e)?.code);
      return { status: end.status, body: { state: end.state, ...c.errorBody(e) } };
    }
    if (!polled.session) {
      // Where the poller stands (slow_down, the next allowed poll) goes back to the cookie.
      await writePending(jar, core.devicePolled(userCode));
      session.discard();
      return { status: 200, body: { state: s.deviceStates.pending, retryAfterMs: polled.wait } };
    }
    await writePending(jar, null);
    await session.adopt();
    await session.keep(jar);
    return { status: 200, body: { state: s.deviceStates.complete } };
  };

  /** @param {Jar} jar @param {Headers} headers */
  const cancel = async (jar, headers) => {
    await writePending(jar, null);
    return c.respond(200, headers, { state: s.deviceStates.cancelled });
  };

  return { read, start, poll, cancel };
}
