// The OAuth provider's endpoints (OIDC discovery, checked by the core), the
// form POSTs to them, token revocation (RFC 7009) and the device login's
// requests and poll loop (RFC 8628).

import { check, codeOf, makeRequest, sleep, transfer } from './transfer.js';

/** @import { ClientCore, Settings, Endpoints } from './steps.js' */
/** @import { Signals } from './transfer.js' */
/** @import { Session } from './index.js' */

const FORM = 'application/x-www-form-urlencoded';

export class Provider {
  /** @param {ClientCore} core @param {Settings} settings */
  constructor(core, settings) {
    this.core = core;
    this.s = settings;
    /** @type {Endpoints | null} */
    this.found = null;
  }

  /** The endpoints, discovered once per client; a failed discovery is tried again next time. @param {Signals} signals */
  async endpoints(signals) {
    if (this.found) return this.found;
    const request = makeRequest(this.core, 'GET', this.s.discoveryUrl, { Accept: 'application/json' });
    const response = await transfer(this.core, request, [], this.s.timeoutMs, signals, 'OIDC discovery');
    const body = response.ok ? await response.json() : (response.stop(), undefined);
    this.found = this.core.discovered(response.status, body);
    return this.found;
  }

  /**
   * POSTs a form: `{ status, body, retryAfter }` with `body` parsed JSON or undefined.
   * @param {string} url @param {[string, string][]} params @param {number} timeoutMs @param {Signals} signals @param {string} what
   */
  async postForm(url, params, timeoutMs, signals, what) {
    const body = new URLSearchParams(params).toString();
    const request = makeRequest(this.core, 'POST', url, { 'Content-Type': FORM, Accept: 'application/json' }, body);
    const response = await transfer(this.core, request, [], timeoutMs, signals, what);
    const retryAfter = response.header('retry-after');
    return { status: response.status, retryAfter, body: await response.json() };
  }

  /**
   * A refresh grant for `refreshToken`.
   * @param {Endpoints} endpoints @param {string} refreshToken @param {number} timeoutMs @param {Signals} signals
   */
  refresh(endpoints, refreshToken, timeoutMs, signals) {
    return this.postForm(endpoints.token, this.core.refreshForm(refreshToken), timeoutMs, signals, 'token request');
  }

  /** Revokes `refreshToken` where the provider advertises a revocation endpoint. @param {string} refreshToken @param {Signals} signals */
  async revoke(refreshToken, signals) {
    const endpoints = await this.endpoints(signals);
    if (!endpoints.revocation) return false;
    const answer = await this.postForm(endpoints.revocation, this.core.revocationForm(refreshToken), this.s.timeoutMs, signals, 'token revocation');
    return this.core.revoked(answer.status);
  }

  /** The provider's JWKS, or undefined. @param {Endpoints} endpoints @param {Signals} signals */
  async jwks(endpoints, signals) {
    if (!endpoints.jwks) return undefined;
    const request = makeRequest(this.core, 'GET', endpoints.jwks, { Accept: 'application/json' });
    const response = await transfer(this.core, request, [], this.s.timeoutMs, signals, 'JWKS');
    return response.ok ? await response.json() : (response.stop(), undefined);
  }

  /** The RP-initiated logout URL for the ID token `idToken`, or null. @param {string | undefined} idToken @param {unknown} returnTo @param {Signals} signals */
  async logoutUrl(idToken, returnTo, signals) {
    try {
      const endpoints = await this.endpoints(signals);
      return this.core.logoutUrl(endpoints, idToken, typeof returnTo === 'string' ? returnTo : undefined) ?? null;
    } catch {
      return null;
    }
  }

  /**
   * The device authorization request; the device code stays in the core.
   * @param {Signals} signals @param {import('./index.js').DeviceLoginOptions} [options]
   */
  async startDeviceLogin(signals, options) {
    const params = this.core.deviceForm(options);
    const endpoints = await this.endpoints(signals);
    if (!endpoints.device) throw this.core.failure('no_device_endpoint');
    const answer = await this.postForm(endpoints.device, params, this.s.timeoutMs, signals, 'device authorization request');
    return this.core.deviceStarted(answer.status, answer.body, Date.now());
  }

  /**
   * One poll of the login of `userCode` in `core`, when its poller allows
   * one (mesh-sdk/next polls once per request): `{ session, body }` once
   * approved (`body`: the token response, for its ID token), else
   * `{ wait }`, the ms before the next. Throws on denial, expiry or a refusal.
   * @param {ClientCore} core @param {string} userCode @param {string} deviceCode @param {Endpoints} endpoints @param {Signals} signals
   * @returns {Promise<{ session: Session, body: unknown, wait?: undefined } | { session?: undefined, wait: number }>}
   */
  async pollOnce(core, userCode, deviceCode, endpoints, signals) {
    const step = core.devicePoll(userCode, Date.now());
    if (step.t === 'pollAfter') return { wait: step.ms };
    let answer;
    try {
      answer = await this.postForm(endpoints.token, core.devicePollForm(deviceCode), this.s.timeoutMs, signals, 'device token request');
    } catch (e) {
      const next = core.deviceNetworkError(userCode, codeOf(e), Date.now());
      if (next.t === 'stopped') throw e;
      return { wait: next.ms };
    }
    const next = core.deviceAnswer(userCode, answer.status, answer.body, answer.retryAfter, Date.now());
    return next.t === 'loggedIn' ? { session: next.session, body: answer?.body } : { wait: next.ms };
  }

  /**
   * Polls the token endpoint until the core says the user approved.
   * @param {string} userCode @param {string} deviceCode @param {Signals} signals @returns {Promise<Session>}
   */
  async poll(userCode, deviceCode, signals) {
    const core = this.core;
    const endpoints = await this.endpoints(signals);
    // Each round sleeps at least the interval (>= 1 s) until the code's
    // expiry, so the poller bounds the loop; the core's cap is a backstop.
    for (let round = 0; round < this.s.maxPolls; round++) {
      check(core, signals);
      const polled = await this.pollOnce(core, userCode, deviceCode, endpoints, signals);
      if (polled.session) return polled.session;
      await sleep(core, polled.wait, signals);
    }
    throw core.failure('poll_limit');
  }
}
