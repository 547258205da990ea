// client.fetch, chat, keys and validate against the stand-in API, which
// verifies the provider's JWTs with jose; API-key mode.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MeshClient } from '../../pkg/node.js';
import { freePort } from '../support/http.mjs';
import {
  errorTexts, jwtPayload, rawDeviceLogin, recordEvents, startStack,
} from '../support/stack.mjs';

const T = { timeout: 60_000 };

describe('API calls', () => {
  let stack;
  before(async () => { stack = await startStack({ accessTokenTtl: 120 }); });
  after(() => stack?.close());

  async function signedIn({ login = 'demo', password = 'demo', ...extra } = {}) {
    const t = await rawDeviceLogin(stack.op.issuer, { login, password });
    const client = new MeshClient(stack.clientOptions(extra));
    client.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
    stack.proxy.reset();
    stack.api.reset();
    return { client, t, events: recordEvents(client) };
  }

  test('fetch attaches Authorization: Bearer with the current token', T, async () => {
    const { client, t } = await signedIn();
    try {
      const res = await client.fetch('/api/v1/chat', { method: 'POST', body: JSON.stringify({ message: 'hi' }), headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).userId, 'user-demo-1');
      const [req] = stack.api.requests;
      assert.equal(req.auth, 'bearer');
      assert.equal(req.token, t.access_token);
      // An absolute URL works too.
      const abs = await client.fetch(new URL('/auth/validate', stack.api.url));
      assert.equal(abs.status, 200);
      assert.equal(stack.proxy.count(), 0, 'no token request for a fresh token');
    } finally {
      client.dispose();
    }
  });

  test('chat, keys and validate', T, async () => {
    const { client } = await signedIn();
    const other = await signedIn({ login: 'demo2', password: 'demo2' });
    try {
      const reply = await client.chat('What is 5 + 7?');
      assert.equal(reply.reply, '12');

      const created = await client.keys.create('ci-agent');
      assert.equal(created.name, 'ci-agent');
      assert.match(created.key, /^mesh_sk_/);
      const listed = await client.keys.list();
      assert.equal(listed.length, 1);
      assert.equal(listed[0].id, created.id);
      assert.equal(listed[0].last4, created.key.slice(-4));
      assert.equal(listed[0].key, undefined, 'a listed key never shows the secret');
      assert.deepEqual(await other.client.keys.list(), [], 'another user sees none of them');

      const v = await client.validate();
      assert.equal(v.valid, true);
      assert.equal(v.source, 'server');
      assert.equal(v.userId, 'user-demo-1');

      await client.keys.revoke(created.id);
      assert.deepEqual(await client.keys.list(), []);
    } finally {
      client.dispose();
      other.client.dispose();
    }
  });

  test('validate falls back to a local check when the API cannot be reached', T, async () => {
    const t = await rawDeviceLogin(stack.op.issuer);
    const closedPort = await freePort();
    const client = new MeshClient(stack.clientOptions({ apiUrl: `http://127.0.0.1:${closedPort}` }));
    try {
      client.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
      const v = await client.validate();
      assert.equal(v.source, 'local');
      assert.equal(v.valid, true);
      assert.equal(v.userId, jwtPayload(t.access_token).sub);
    } finally {
      client.dispose();
    }
  });

  test('401: one refresh, one retry, with the new token', T, async () => {
    const { client, t, events } = await signedIn();
    try {
      stack.api.reject(t.access_token); // revoked server-side, though not expired
      const res = await client.fetch('/auth/validate');
      assert.equal(res.status, 200);
      assert.equal(stack.proxy.count('refresh_token'), 1);
      const seen = stack.api.requests.map((r) => [r.status, r.token === t.access_token]);
      assert.deepEqual(seen, [[401, true], [200, false]]);
      assert.equal(events.of('refreshed').length, 1);
      assert.equal(events.of('unauthorized').length, 0);
    } finally {
      client.dispose();
    }
  });

  test('a burst of 401s for one stale token causes one refresh', T, async () => {
    const { client, t } = await signedIn();
    try {
      stack.api.reject(t.access_token);
      const responses = await Promise.all(Array.from({ length: 25 }, () => client.fetch('/auth/validate')));
      assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]));
      assert.equal(stack.proxy.count('refresh_token'), 1, 'one refresh for 25 rejected requests');
      const retried = stack.api.requests.filter((r) => r.status === 200);
      assert.equal(retried.length, 25);
      assert.equal(new Set(retried.map((r) => r.token)).size, 1, 'all retried with the one new token');
      // A later 401 for the already-replaced token is just retried with the current one.
      assert.deepEqual(stack.proxy.reusedRefreshTokens(), []);
    } finally {
      client.dispose();
    }
  });

  test('401 again after the retry: unauthorized, with context and no token anywhere in the error', T, async () => {
    const { client, t, events } = await signedIn();
    try {
      stack.api.failNext(2, 401, { path: '/api/v1/chat' });
      const err = await client.chat('hello').then(() => null, (e) => e);
      assert.ok(err, 'chat rejected');
      assert.equal(err.code, 'unauthorized');
      assert.equal(err.name, 'MeshError');
      assert.equal(err.context.method, 'POST');
      assert.equal(err.context.path, '/api/v1/chat');
      assert.equal(err.context.status, 401);
      assert.equal(typeof err.context.tokenAgeSeconds, 'number');
      assert.equal(typeof err.context.tokenRemainingSeconds, 'number');
      assert.ok(err.context.tokenRemainingSeconds > 0);
      assert.equal(stack.api.count('/api/v1/chat'), 2, 'one retry only');
      assert.equal(stack.proxy.count('refresh_token'), 1, 'one refresh only');
      assert.deepEqual(events.of('unauthorized').map(({ method, path, status }) => ({ method, path, status })),
        [{ method: 'POST', path: '/api/v1/chat', status: 401 }]);
      assertNoSecrets(err, [t.access_token, t.refresh_token, client.exportEnv().MESH_ACCESS_TOKEN, client.exportEnv().MESH_REFRESH_TOKEN]);
    } finally {
      client.dispose();
    }
  });

  test('POST is not retried on 502; GET is; nothing is retried on 500', T, async () => {
    const { client, t } = await signedIn();
    try {
      stack.api.failNext(1, 502, { path: '/api/v1/chat' });
      const post = await client.fetch('/api/v1/chat', { method: 'POST', body: JSON.stringify({ message: 'x' }) }).catch((e) => e);
      assert.equal(post.status, 502, 'the 502 reaches the caller');
      assert.equal(stack.api.count('/api/v1/chat', 'POST'), 1, 'POST not retried');

      stack.api.failNext(1, 502, { path: '/auth/validate' });
      const get = await client.fetch('/auth/validate');
      assert.equal(get.status, 200, 'GET retried after a 502');
      assert.equal(stack.api.count('/auth/validate', 'GET'), 2);

      stack.api.failNext(1, 503, { path: '/api/v1/keys' });
      const list = await client.keys.list();
      assert.deepEqual(list, []);
      assert.equal(stack.api.count('/api/v1/keys', 'GET'), 2, 'GET retried after a 503');

      stack.api.failNext(1, 500, { path: '/auth/validate' });
      const five = await client.fetch('/auth/validate').catch((e) => e);
      assert.equal(five.status, 500);
      assert.equal(stack.api.count('/auth/validate', 'GET'), 3, 'a 500 is not retried');

      stack.api.failNext(1, 500, { path: '/api/v1/chat' });
      const err = await client.chat('hi').then(() => null, (e) => e);
      assert.equal(err.code, 'http_error');
      assert.equal(err.status, 500);
      assert.equal(err.context.status, 500);
      assert.equal(err.context.method, 'POST');
      assert.equal(err.context.path, '/api/v1/chat');
      assertNoSecrets(err, [t.access_token, t.refresh_token]);
      assert.equal(stack.proxy.count(), 0, 'server errors never trigger a refresh');
    } finally {
      client.dispose();
    }
  });

  test('a dropped connection: GET is retried, POST is not', T, async () => {
    const { client, t } = await signedIn();
    try {
      stack.api.failNext(1, 'reset', { path: '/auth/validate' });
      const res = await client.fetch('/auth/validate');
      assert.equal(res.status, 200);
      assert.equal(stack.api.count('/auth/validate'), 2, 'GET retried once');

      stack.api.failNext(1, 'reset', { path: '/api/v1/chat' });
      const err = await client.chat('once only').then(() => null, (e) => e);
      assert.equal(err?.code, 'network');
      assert.equal(stack.api.count('/api/v1/chat'), 1, 'POST not re-sent');
      assertNoSecrets(err, [t.access_token, t.refresh_token]);
      assert.equal(stack.proxy.count(), 0, 'no refresh for a network error');
    } finally {
      stack.api.clearFaults();
      client.dispose();
    }
  });

  test('an API that hangs: timeout after timeoutMs, POST not retried; a caller\'s AbortSignal ends a call at once', T, async () => {
    const { client, t } = await signedIn({ timeoutMs: 1500 });
    try {
      stack.api.failNext(1, 'hang', { path: '/api/v1/chat' });
      const started = Date.now();
      const err = await client.chat('anyone there?').then(() => null, (e) => e);
      assert.equal(err?.code, 'timeout');
      assert.equal(err.context?.method, 'POST');
      assert.equal(err.context?.path, '/api/v1/chat');
      // A bound against hanging, not a performance figure.
      assert.ok(Date.now() - started < 1500 + 8000, `took ${Date.now() - started} ms`);
      assert.equal(stack.api.count('/api/v1/chat'), 1, 'a POST that may have arrived is not re-sent');
      assertNoSecrets(err, [t.access_token, t.refresh_token]);

      stack.api.failNext(1, 'hang', { path: '/auth/validate' });
      const ac = new AbortController();
      const pending = client.fetch('/auth/validate', { signal: ac.signal });
      await waitUntil(() => stack.api.count('/auth/validate') === 1);
      ac.abort();
      await assert.rejects(pending, (e) => e.code === 'aborted' || e.name === 'AbortError');
      assert.equal(stack.api.count('/auth/validate'), 1, 'an aborted call is not retried');
    } finally {
      stack.api.clearFaults();
      client.dispose();
    }
  });

  test('dispose() during a call: the GET rejects with disposed at once and is not retried', T, async () => {
    const { client } = await signedIn({ timeoutMs: 20_000 });
    try {
      stack.api.failNext(1, 'hang', { path: '/auth/validate' });
      const started = Date.now();
      const pending = client.fetch('/auth/validate').then(() => null, (e) => e);
      await waitUntil(() => stack.api.count('/auth/validate') === 1);
      client.dispose();
      const err = await pending;
      assert.equal(err?.code, 'disposed', `${err?.code}: ${err?.message}`);
      // Long before the 20 s timeout; a GET that failed otherwise would be retried.
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(stack.api.count('/auth/validate'), 1, 'a disposed client sends nothing more');
    } finally {
      stack.api.clearFaults();
      client.dispose();
    }
  });

  test('without AbortSignal.any (older runtimes): a caller\'s signal and the timeout still end a hung call, and no listener is left behind', T, async () => {
    const { client } = await signedIn({ timeoutMs: 1500 });
    const any = Object.getOwnPropertyDescriptor(AbortSignal, 'any');
    delete AbortSignal.any; // transfer.js checks per call and links the signals itself
    // Counts the 'abort' listeners transfer.js adds to and removes from a
    // caller's signal (Node's own Request adds one too, dropped at its GC).
    const tracked = () => {
      const ac = new AbortController();
      const { signal } = ac;
      const live = new Set();
      const add = signal.addEventListener.bind(signal);
      const remove = signal.removeEventListener.bind(signal);
      const fromLayer = () => /\/transfer\.js/.test(new Error().stack.split('\n')[3]); // the caller of the wrapper
      signal.addEventListener = (type, fn, o) => { if (type === 'abort' && fromLayer()) live.add(fn); add(type, fn, o); };
      signal.removeEventListener = (type, fn, o) => { if (type === 'abort') live.delete(fn); remove(type, fn, o); };
      return { ac, signal, live };
    };
    try {
      assert.equal(typeof AbortSignal.any, 'undefined');
      stack.api.failNext(1, 'hang', { path: '/auth/validate' });
      const first = tracked();
      const pending = client.fetch('/auth/validate', { signal: first.signal });
      await waitUntil(() => stack.api.count('/auth/validate') === 1);
      assert.equal(first.live.size, 1, 'the fallback listens on the caller\'s signal');
      first.ac.abort();
      await assert.rejects(pending, (e) => e.code === 'aborted');
      assert.equal(first.live.size, 0, 'and stops listening once the call ended');

      stack.api.failNext(1, 'hang', { path: '/auth/validate' });
      const second = tracked();
      const err = await client.fetch('/auth/validate', { signal: second.signal }).then(() => null, (e) => e);
      assert.equal(err?.code, 'timeout', String(err));
      assert.equal(second.live.size, 0, 'no listener left after a timeout');

      const third = tracked();
      const res = await client.fetch('/auth/validate', { signal: third.signal });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      third.ac.abort(); // after the call: nothing to end, nothing thrown
    } finally {
      Object.defineProperty(AbortSignal, 'any', any);
      stack.api.clearFaults();
      client.dispose();
    }
  });

  test('404 on an authenticated call: refresh + retry only with treat404AsUnauthorized', T, async () => {
    const plain = await signedIn();
    try {
      stack.api.unauthorizedAs404 = true;
      stack.api.reject(plain.t.access_token);
      const res = await plain.client.fetch('/auth/validate');
      assert.equal(res.status, 404);
      assert.equal(stack.proxy.count('refresh_token'), 0, 'a 404 is a 404 by default');
    } finally {
      plain.client.dispose();
    }
    const opted = await signedIn({ treat404AsUnauthorized: true });
    try {
      stack.api.unauthorizedAs404 = true;
      stack.api.reject(opted.t.access_token);
      const res = await opted.client.fetch('/auth/validate');
      assert.equal(res.status, 200);
      assert.equal(stack.proxy.count('refresh_token'), 1);
      assert.equal(stack.api.count('/auth/validate'), 2);
    } finally {
      opted.client.dispose();
    }
  });
});

describe('API-key mode', () => {
  let stack;
  before(async () => { stack = await startStack(); });
  after(() => stack?.close());

  test('sends X-API-Key, no Authorization, and never contacts the provider', T, async () => {
    const { key } = stack.api.issueKey('user-demo-1', 'agent');
    stack.proxy.reset();
    const client = new MeshClient({ apiUrl: stack.api.url, apiKey: key, timeoutMs: 5000 });
    try {
      const reply = await client.chat('What is 1 + 2?');
      assert.equal(reply.reply, '3');
      const res = await client.fetch('/auth/validate');
      assert.equal(res.status, 200);
      assert.equal((await res.json()).authMethod, 'api_key');
      for (const r of stack.api.requests) {
        assert.equal(r.auth, 'api_key');
        assert.equal(r.hasApiKeyHeader, true);
        assert.equal(r.hasAuthorization, false);
      }
      assert.equal(stack.proxy.requests.length, 0, 'no discovery, no token request');
      assert.equal(client.exportEnv(), null, 'no OAuth state');
    } finally {
      client.dispose();
    }
  });

  test('a rejected key: unauthorized at once, no hang, no refresh attempt, key not in the error', T, async () => {
    stack.api.reset();
    const badKey = `mesh_sk_${'x'.repeat(43)}`;
    const client = new MeshClient({ apiUrl: stack.api.url, apiKey: badKey, timeoutMs: 5000 });
    try {
      const err = await client.chat('hi').then(() => null, (e) => e);
      assert.equal(err.code, 'unauthorized');
      assert.equal(stack.api.count('/api/v1/chat'), 1, 'nothing to refresh, so no retry');
      assertNoSecrets(err, [badKey]);
    } finally {
      client.dispose();
    }
  });
});

function assertNoSecrets(err, secrets) {
  const text = errorTexts(err);
  for (const s of secrets.filter(Boolean)) {
    assert.ok(!text.includes(s), 'an error leaks a secret');
    // Not even a recognisable part of it.
    assert.ok(!text.includes(s.slice(-24)), 'an error leaks part of a secret');
  }
}

async function waitUntil(predicate, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
