// The client tests' fixture: a real provider, the fault proxy in front of it,
// and the stand-in API, all on free ports of 127.0.0.1; plus helpers that log
// a client in through the provider's own pages.
//
//   const stack = await startStack({ accessTokenTtl: 30 });
//   after(() => stack.close());
//   const client = new MeshClient(stack.clientOptions({ storage }));
//   await loginClient(client);

import { startProvider } from '../../scripts/servers/provider.mjs';
import { approveDevice } from './approve.mjs';
import { DEVICE_GRANT, startFaultProxy } from './faults.mjs';
import { startApi } from './api.mjs';

export { approveDevice, DEVICE_GRANT };

/** Starts provider + fault proxy + API. `providerOptions` go to startProvider. */
export async function startStack({ deviceInterval = 1, ...providerOptions } = {}) {
  const op = await startProvider(providerOptions);
  const started = [op];
  try {
    const proxy = await startFaultProxy({ target: op.issuer, deviceInterval });
    started.push(proxy);
    const api = await startApi({ issuer: op.issuer, audience: op.audience });
    started.push(api);
    return {
      op,
      proxy,
      api,
      /** MeshClient options pointing at the proxy (issuer) and the API. */
      clientOptions(extra = {}) {
        return {
          issuer: proxy.issuer,
          clientId: op.clientId,
          audience: op.audience,
          scope: 'openid offline_access',
          apiUrl: api.url,
          timeoutMs: 5000,
          ...extra,
        };
      },
      async close() {
        await Promise.allSettled(started.reverse().map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
}

/** Logs a MeshClient in: starts the device login, approves it over HTTP, completes. */
export async function loginClient(client, { login = 'demo', password = 'demo', signal } = {}) {
  const started = await client.startDeviceLogin();
  const [session] = await Promise.all([
    client.completeDeviceLogin(started, { signal }),
    approveDevice({ verificationUriComplete: started.verificationUriComplete, login, password }),
  ]);
  return { started, session };
}

/**
 * Gets tokens straight from the provider with raw HTTP (device flow approved
 * over its pages), without the SDK: for tests that seed a session.
 * Returns the token endpoint's JSON plus `receivedAt` (Unix seconds).
 */
export async function rawDeviceLogin(issuer, { clientId = 'mesh-demo', login = 'demo', password = 'demo', scope = 'openid offline_access' } = {}) {
  // Bounded like approveDevice's requests: a provider that stops answering
  // fails the test that asked instead of stalling the suite.
  const timeout = () => AbortSignal.timeout(15_000);
  const disc = await (await fetch(`${issuer}/.well-known/openid-configuration`, { signal: timeout() })).json();
  const form = (o) => ({ method: 'POST', body: new URLSearchParams(o), signal: timeout() });
  const da = await (await fetch(disc.device_authorization_endpoint, form({ client_id: clientId, scope }))).json();
  await approveDevice({ verificationUriComplete: da.verification_uri_complete, login, password });
  const res = await fetch(disc.token_endpoint, form({ client_id: clientId, grant_type: DEVICE_GRANT, device_code: da.device_code }));
  const tokens = await res.json();
  if (!res.ok) throw new Error(`raw device login failed: ${JSON.stringify(tokens)}`);
  return { ...tokens, receivedAt: Math.floor(Date.now() / 1000) };
}

/**
 * A custom storage adapter over a Map that records every call. `async: true`
 * makes every method return a promise (resolved on a later macrotask).
 */
export function recordingStorage({ async = false, initial = {} } = {}) {
  const data = new Map(Object.entries(initial));
  const calls = [];
  const later = (v) => (async ? new Promise((r) => setTimeout(() => r(v), 1)) : v);
  return {
    data,
    calls,
    /** Every stored value, joined: to search for a token without knowing the format. */
    dump() { return [...data.values()].join('\n'); },
    get(key) { calls.push(['get', key]); return later(data.has(key) ? data.get(key) : null); },
    set(key, value) { calls.push(['set', key]); data.set(key, String(value)); return later(undefined); },
    remove(key) { calls.push(['remove', key]); data.delete(key); return later(undefined); },
  };
}

/** Collects a client's events: `events.list` of [name, payload]; `events.of(name)`. */
export function recordEvents(client, names = ['refreshed', 'refreshFailed', 'sessionEnded', 'unauthorized']) {
  const list = [];
  const offs = names.map((n) => client.on(n, (payload) => list.push([n, payload])));
  return {
    list,
    of: (name) => list.filter(([n]) => n === name).map(([, p]) => p),
    off: () => offs.forEach((f) => f()),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Decodes a JWT's payload (no verification: for assertions only). */
export function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/**
 * Asserts that no secret appears anywhere in an error: message, String(),
 * JSON, stack, context and the whole cause chain. Returns the texts checked.
 */
export function errorTexts(err) {
  const texts = [];
  const seen = new Set();
  for (let e = err; e && typeof e === 'object' && !seen.has(e); e = e.cause) {
    seen.add(e);
    texts.push(String(e), e.message ?? '', e.stack ?? '', safeStringify(e), safeStringify(e.context ?? null),
      safeStringify(Object.fromEntries(Object.getOwnPropertyNames(e).map((k) => [k, e[k]]))));
  }
  return texts.join('\n');
}

function safeStringify(v) {
  try { return JSON.stringify(v) ?? ''; } catch { return ''; }
}
