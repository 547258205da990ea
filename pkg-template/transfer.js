// Fetch with a deadline and abort signals, and sleeps that end early when a
// signal fires. Every failure becomes the core's MeshError (ClientCore's
// `failure`/`networkFailure`); no timer or listener outlives its call.

/** @import { ClientCore } from './steps.js' */
/** @import { MeshError } from './errors.js' */
/** The signals a piece of work obeys: the client's lifetime (aborted by dispose()), then the caller's. @typedef {[AbortSignal, AbortSignal | undefined]} Signals */

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Errors of a network failure that certainly never reached the server. */
const unsent = new WeakSet();

/** @param {number} ms */
export const timerMs = (ms) => Math.min(Math.max(ms, 0), MAX_TIMER_MS);

/** @param {unknown} v @returns {v is Record<string, any>} */
export const isObject = (v) => v !== null && typeof v === 'object';

/** A thrown JavaScript value, described without assuming it is an Error. @param {unknown} value */
export function describe(value) {
  if (typeof value === 'string') return value;
  try {
    const message = /** @type {any} */ (value).message;
    if (typeof message === 'string') return message;
  } catch {}
  return 'unknown JavaScript error';
}

/** `JSON.parse`, or undefined for an empty or non-JSON body (a proxy's HTML error page, say). @param {string} text */
export function parseJson(text) {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The `code` of an error the core reads (a MeshError's), else undefined. @param {unknown} error @returns {string | undefined} */
export const codeOf = (error) => {
  const code = isObject(error) ? /** @type {any} */ (error).code : undefined;
  return typeof code === 'string' ? code : undefined;
};

/** True when `error` is a network failure the core judged unsent. @param {unknown} error */
export const neverSent = (error) => isObject(error) && unsent.has(error);

/** Throws once a signal fired: `disposed` for the lifetime (first), `aborted` for the caller's. @param {ClientCore} core @param {Signals} signals */
export function check(core, [lifetime, caller]) {
  if (lifetime.aborted) throw core.failure('disposed');
  if (caller?.aborted) throw core.failure('aborted');
}

/** Sleeps `ms`; ends early when a signal fires. @param {ClientCore} core @param {number} ms @param {Signals} signals @returns {Promise<void>} */
export function sleep(core, ms, signals) {
  return new Promise((resolve, reject) => {
    check(core, signals);
    const wake = () => {
      clearTimeout(timer);
      for (const s of signals) s?.removeEventListener('abort', wake);
      try {
        check(core, signals);
        resolve();
      } catch (e) {
        reject(e);
      }
    };
    const timer = setTimeout(wake, timerMs(ms));
    for (const s of signals) s?.addEventListener('abort', wake);
  });
}

/** The `signal` of per-call options, if it is one. @param {unknown} options @returns {AbortSignal | undefined} */
export const signalOf = (options) => (isObject(options) && options.signal instanceof AbortSignal ? options.signal : undefined);

/**
 * The request of `fetch(input, init)` at `url`, the core's resolution of
 * `input`: a Request input keeps its method, headers, body and signal (its
 * URL is absolute, so the core returned it as it is), `init` on top. With it,
 * the caller's signal, which the call's deadline links to: `init`'s, else
 * the Request input's own.
 * @param {string} url @param {RequestInfo | URL} input @param {RequestInit} [init]
 * @returns {[Request, AbortSignal | undefined]}
 */
export function requestOf(url, input, init) {
  const base = input instanceof Request ? (input.url === url ? input : new Request(url, input)) : new Request(url);
  const signal = signalOf(init) ?? (input instanceof Request ? input.signal : undefined);
  return [isObject(init) ? new Request(base, init) : base, signal];
}

/** A request with a method, headers and an optional body. @param {ClientCore} core @param {string} method @param {string} url @param {Record<string, string>} headers @param {string} [body] */
export function makeRequest(core, method, url, headers, body) {
  try {
    return new Request(url, { method, headers, body });
  } catch (e) {
    throw core.failure('request', 'invalid URL', describe(e));
  }
}

/**
 * @typedef {object} Transfer
 * @property {number} status
 * @property {boolean} ok
 * @property {Response} raw
 * @property {() => void} stop ends the deadline (the caller's signal keeps covering `raw`)
 * @property {(name: string) => string | undefined} header
 * @property {() => Promise<unknown>} json the parsed body, or undefined; the deadline covers it
 */

/**
 * Sends `request` (cloned, so it may be sent again) with `headers` on top of
 * its own, within `timeoutMs` unless a signal fires. `what` names it in errors
 * and holds no secret. Resolves once status and headers arrived.
 * @param {ClientCore} core @param {Request} request @param {[string, string][]} headers
 * @param {number} timeoutMs @param {Signals} signals @param {string} what
 * @returns {Promise<Transfer>}
 */
export async function transfer(core, request, headers, timeoutMs, signals, what) {
  check(core, signals);
  const timer = new AbortController();
  const handle = setTimeout(() => timer.abort(), timerMs(timeoutMs));
  const watched = /** @type {AbortSignal[]} */ (signals.filter(Boolean));
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
  /** @param {unknown} error */
  const failure = (error) => {
    try {
      check(core, signals);
    } catch (e) {
      return e;
    }
    if (timer.signal.aborted) return core.failure('timeout', what, String(timeoutMs));
    // Node puts the reason (`connect ECONNREFUSED ...`) in `cause`.
    const cause = isObject(error) ? error.cause : undefined;
    const code = isObject(cause) && typeof cause.code === 'string' ? cause.code : undefined;
    const found = core.networkFailure(what, describe(error), isObject(cause) ? describe(cause) : undefined, code);
    if (found.unsent) unsent.add(found.error);
    return found.error;
  };
  let outgoing;
  try {
    const merged = new Headers(request.headers);
    for (const [name, value] of headers) merged.set(name, value);
    // No redirect is followed: fetch would carry the request's credential
    // (an API key, a refresh token) to wherever the Location points. The
    // 3xx (in a browser, an opaque redirect) is the answer; the core's
    // errors say so (client::request::is_redirect).
    outgoing = new Request(request.clone(), { signal, headers: merged, redirect: 'manual' });
  } catch (e) {
    stop();
    throw core.failure('request', what, describe(e));
  }
  let response;
  try {
    response = await fetch(outgoing);
  } catch (e) {
    stop();
    throw failure(e);
  }
  const raw = response;
  return {
    status: raw.status,
    ok: raw.ok,
    raw,
    stop,
    header: (name) => raw.headers.get(name) ?? undefined,
    async json() {
      try {
        return parseJson(await raw.text());
      } catch (e) {
        throw failure(e);
      } finally {
        stop();
      }
    },
  };
}
