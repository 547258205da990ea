// One call to the API with the session's credential, by the core's request
// policy (src/client/request.rs through ClientCore.decide): respond, refresh
// once and retry once after a 401, retry an idempotent request after a
// transient failure, or fail with context. MeshClient (the browser, Node)
// and mesh-sdk/next's fetchApi (a route handler, with the server-held
// token) both send their API calls through it.

import { sleep, transfer } from './transfer.js';

/** @import { ClientCore, CallRecord, Settings, TokenReady } from './steps.js' */
/** @import { Signals, Transfer } from './transfer.js' */
/** @import { SessionKeeper } from './session.js' */
/** @typedef {{ header: [string, string], credential: Partial<CallRecord> }} Auth */

/** The credential header of access token `ready` (the core's), and what the core records of it. @param {TokenReady} ready @returns {Auth} */
export function bearer(ready) {
  const credential = { generation: ready.generation, received: ready.received ?? Date.now(), expires: ready.expires ?? null };
  return { header: ready.header, credential };
}

/**
 * @param {ClientCore} core @param {SessionKeeper} keeper @param {Settings} settings the core's: the deadline, the attempts
 * @param {Request} request @param {string} path @param {Signals} signals
 * @param {(ready?: TokenReady) => Promise<Auth>} authOf the credential: of `ready`, else the keeper's current one
 * @returns {Promise<[Transfer, CallRecord]>}
 */
export async function sendApiCall(core, keeper, settings, request, path, signals, authOf) {
  let auth = await authOf();
  const now = Date.now();
  /** @type {CallRecord} */
  const call = { method: request.method, path, started: now, sent: now, auth: 0, transient: 0 };
  // The core's steps end the call within maxAttempts; the cap is a backstop.
  for (let attempt = 0; attempt < settings.maxAttempts; attempt++) {
    call.sent = Date.now();
    Object.assign(call, auth.credential);
    let response;
    let error;
    try {
      response = await transfer(core, request, [auth.header], settings.timeoutMs, signals, 'API request');
    } catch (e) {
      error = /** @type {any} */ (e);
    }
    // No response: the core reads the error's code (a disposal is handed back as it is).
    const outcome = response ? response.status : error?.code;
    const step = core.decide(call, outcome, response?.header('retry-after'), Date.now(), Math.random());
    if (step.t === 'respond') {
      if (error || !response) throw error;
      return [response, call];
    }
    response?.stop();
    switch (step.t) {
      case 'refreshAndRetry':
        auth = await authOf(await keeper.forceRefresh(step.stale));
        call.auth++;
        break;
      case 'retryWithCurrent':
        auth = await authOf();
        call.auth++;
        break;
      case 'retryAfter':
        await sleep(core, step.ms, signals);
        auth = await authOf();
        call.transient++;
        break;
      default: {
        const failed = step.error;
        if (error) failed.cause = error;
        if (step.event) {
          const ctx = failed.context;
          const payload = ctx ? { method: ctx.method, path: ctx.path, status: ctx.status ?? null } : {};
          keeper.emit(step.event, { ...payload, error: failed });
        }
        throw failed;
      }
    }
  }
  throw core.failure('request_retries');
}
