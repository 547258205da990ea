// Options, storage, setSession / exportEnv / fromEnv, logout and dispose.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { MeshClient } from '../../pkg/node.js';
import {
  errorTexts, nowSeconds, rawDeviceLogin, recordEvents, recordingStorage, startStack,
} from '../support/stack.mjs';

const T = { timeout: 60_000 };

describe('options are checked at construction', () => {
  const base = { issuer: 'http://127.0.0.1:9', clientId: 'mesh-demo', apiUrl: 'http://127.0.0.1:9' };
  const cases = [
    ['no options at all', {}, /issuer/],
    ['issuer missing', { clientId: 'mesh-demo' }, /issuer/],
    ['issuer not a URL', { ...base, issuer: 'not a url' }, /issuer/],
    ['clientId missing', { issuer: base.issuer }, /clientId/],
    ['clientId not a string', { ...base, clientId: 42 }, /clientId/],
    ['apiUrl not a URL', { ...base, apiUrl: 'ftp//x' }, /apiUrl/],
    ['timeoutMs negative', { ...base, timeoutMs: -1 }, /timeoutMs/],
    ['timeoutMs not a number', { ...base, timeoutMs: 'soon' }, /timeoutMs/],
    // Checked by the core (ClientConfig::from_options), as every option is:
    ['timeoutMs with a fraction', { ...base, timeoutMs: 1500.5 }, /timeoutMs.*whole number/],
    ['maxRequestRetries not finite', { ...base, maxRequestRetries: Infinity }, /maxRequestRetries/],
    ['treat404AsUnauthorized not a boolean', { ...base, treat404AsUnauthorized: 'yes' }, /treat404AsUnauthorized/],
    ['scope an array', { ...base, scope: ['openid'] }, /scope.*string/],
    ['refreshLeewaySeconds negative', { ...base, refreshLeewaySeconds: -5 }, /refreshLeewaySeconds/],
    ['unknown storage', { ...base, storage: 'cookies' }, /storage/],
    ['storage object without methods', { ...base, storage: { get() {} } }, /storage/],
    ['storage a number', { ...base, storage: 42 }, /storage.*string or an adapter/],
    ['storage named in the wrong case', { ...base, storage: 'LocalStorage' }, /storage.*'localStorage'/],
    ['apiKey without apiUrl', { apiKey: 'mesh_sk_abcdefghijklmnop' }, /apiUrl/],
    // A name the client does not read is a typo, not a setting to ignore.
    ['apiKey spelt apikey', { apiUrl: base.apiUrl, apikey: 'mesh_sk_abcdefghijklmnop' }, /`apikey`.*did you mean `apiKey`/],
    ['timeoutMs spelt timeOutMs', { ...base, timeOutMs: 5000 }, /`timeOutMs`.*did you mean `timeoutMs`/],
    ['refreshLeewaySeconds misspelt', { ...base, refreshLeewaySecond: 30 }, /did you mean `refreshLeewaySeconds`/],
    ['an option of no client', { ...base, retries: 3 }, /`retries`: is not an option of this client/],
    ['a client secret in MeshClient', { ...base, clientSecret: 's3cret-s3cret' }, /`clientSecret`.*mesh-sdk\/next/],
    ['apiKey that is a JWT', { apiUrl: base.apiUrl, apiKey: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' }, /apiKey/],
  ];
  for (const [name, options, names] of cases) {
    test(name, () => {
      assert.throws(() => new MeshClient(options), (err) => {
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'MeshError');
        assert.equal(err.code, 'invalid_config');
        assert.match(err.message, names);
        return true;
      });
    });
  }
  test('a key id that is not a non-empty string is refused before any request', async () => {
    const client = new MeshClient(base);
    for (const id of ['', 42, undefined]) {
      await assert.rejects(client.keys.revoke(/** @type {any} */ (id)), (err) => err.code === 'invalid_config' && /id/.test(err.message));
      await assert.rejects(client.keys.rotate(/** @type {any} */ (id)), (err) => err.code === 'invalid_config' && /id/.test(err.message));
    }
    client.dispose();
  });
  test('a keys.create or keys.rotate option it does not read is refused before any request', async () => {
    const client = new MeshClient(base);
    try {
      // A misspelt expiresAt would make a key that never expires.
      await assert.rejects(client.keys.create('ci', { expires: new Date(Date.now() + 3600_000) }), (err) => err.code === 'invalid_config' && /`expires`.*did you mean `expiresAt`/.test(err.message));
      await assert.rejects(client.keys.create('ci', { scope: ['read'] }), (err) => err.code === 'invalid_config' && /did you mean `scopes`/.test(err.message));
      await assert.rejects(client.keys.rotate('key-1', { gracePeriod: 60 }), (err) => err.code === 'invalid_config' && /`gracePeriod`: is not an option of keys.rotate: gracePeriodSeconds/.test(err.message));
      // The options it reads pass the check (and then fail only for want of a session).
      await assert.rejects(client.keys.create('ci', { scopes: ['read'], expiresAt: 1, rateLimit: 5 }), (err) => err.code === 'not_logged_in');
    } finally {
      client.dispose();
    }
  });
  test('the API key itself is never echoed in the error', () => {
    const key = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    assert.throws(() => new MeshClient({ apiUrl: base.apiUrl, apiKey: key }), (err) => !errorTexts(err).includes(key));
  });
  test('no options object', () => {
    assert.throws(() => new MeshClient(), (err) => err.code === 'invalid_config');
  });
  // Server rendering builds the browser's module-scope client in Node, which has no web storage.
  for (const storage of ['localStorage', 'sessionStorage']) {
    test(`storage '${storage}' where the runtime has none: built, and its first use says why`, async () => {
      assert.equal(globalThis[storage], undefined, 'this runtime has no web storage');
      const client = new MeshClient({ ...base, storage });
      try {
        assert.equal(client.getSession(), null);
        assert.equal(client.pendingDeviceLogin(), null);
        await assert.rejects(client.getAccessToken(), (err) => err.code === 'storage' && err.message.includes(`'${storage}' is not available here`));
      } finally {
        client.dispose();
      }
    });
  }
});

describe('session storage and lifecycle', () => {
  let stack;
  before(async () => { stack = await startStack({ accessTokenTtl: 120 }); });
  after(() => stack?.close());

  async function tokens(login = 'demo') {
    return rawDeviceLogin(stack.op.issuer, { login, password: login });
  }

  test('memory is the default: a second client does not see the first one\'s session', T, async () => {
    const t = await tokens();
    const a = new MeshClient(stack.clientOptions());
    const b = new MeshClient(stack.clientOptions());
    try {
      a.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
      assert.equal(await a.getAccessToken(), t.access_token);
      await assert.rejects(b.getAccessToken(), (err) => err.code === 'not_logged_in');
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  for (const async of [false, true]) {
    test(`custom ${async ? 'async' : 'sync'} storage adapter: a new client resumes the stored session without a request`, T, async () => {
      const t = await tokens();
      const storage = recordingStorage({ async });
      const a = new MeshClient(stack.clientOptions({ storage }));
      a.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
      assert.equal(await a.getAccessToken(), t.access_token);
      a.dispose();
      assert.ok(storage.calls.some(([op]) => op === 'set'), 'the session was written');
      assert.ok(storage.dump().includes(t.refresh_token));

      stack.proxy.reset();
      const b = new MeshClient(stack.clientOptions({ storage }));
      try {
        assert.equal(await b.getAccessToken(), t.access_token);
        assert.equal(b.exportEnv().MESH_REFRESH_TOKEN, t.refresh_token);
        assert.equal(stack.proxy.requests.length, 0, 'no discovery or token request');
      } finally {
        b.dispose();
      }
    });
  }

  for (const [label, corrupt] of [
    ['not JSON', () => '{"accessToken": "unterminated'],
    ['foreign JSON', () => JSON.stringify({ foo: 'bar', version: 99 })],
    ['a bare number', () => '42'],
  ]) {
    test(`corrupt storage (${label}) gives a logged-out client and a clear error, not a crash`, T, async () => {
      const t = await tokens();
      const storage = recordingStorage();
      const a = new MeshClient(stack.clientOptions({ storage }));
      a.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
      await a.getAccessToken();
      a.dispose();
      assert.ok(storage.data.size > 0, 'something was stored');
      for (const k of storage.data.keys()) storage.data.set(k, corrupt());

      const b = new MeshClient(stack.clientOptions({ storage }));
      try {
        const err = await b.getAccessToken().then(() => null, (e) => e);
        assert.ok(err, 'no token from corrupt storage');
        assert.ok(['not_logged_in', 'storage'].includes(err.code), err.code);
        assert.ok(err.message.length > 10, 'a message a person can read');
        assert.equal(b.exportEnv(), null, 'logged out');
        // The client still works: a new session can be set.
        b.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
        assert.equal(await b.getAccessToken(), t.access_token);
      } finally {
        b.dispose();
      }
    });
  }

  test('a storage adapter that throws gives a storage error, not a crash', T, async () => {
    const storage = {
      get() { throw new Error('disk on fire'); },
      set() { throw new Error('disk on fire'); },
      remove() { throw new Error('disk on fire'); },
    };
    const client = new MeshClient(stack.clientOptions({ storage }));
    try {
      const err = await client.getAccessToken().then(() => null, (e) => e);
      assert.ok(err);
      assert.ok(['storage', 'not_logged_in'].includes(err.code), err.code);
    } finally {
      client.dispose();
    }
  });

  test('a storage adapter whose calls never settle: a storage error within timeoutMs, and the session goes on in memory', T, async () => {
    const never = () => new Promise(() => {});
    const calls = [];
    const storage = { get: (k) => (calls.push('get'), never()), set: (k) => (calls.push('set'), never()), remove: (k) => (calls.push('remove'), never()) };
    const client = new MeshClient(stack.clientOptions({ storage, timeoutMs: 800 }));
    try {
      const started = Date.now();
      const err = await client.getAccessToken().then(() => null, (e) => e);
      assert.equal(err?.code, 'storage', `rejected with ${err?.code}: ${err?.message}`);
      assert.match(err.message, /get\(\) did not settle within 800 ms/);
      assert.ok(Date.now() - started < 10_000, 'bounded by timeoutMs, not hanging');
      // A session set now is used, though its write never settles either.
      const t = await tokens();
      await client.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
      assert.equal(await client.getAccessToken(), t.access_token);
      assert.deepEqual(calls, ['get', 'set']);
    } finally {
      client.dispose();
    }
  });

  test('setSession / exportEnv / fromEnv round trip', T, async () => {
    const t = await tokens();
    const expiresAt = t.receivedAt + t.expires_in;
    const a = new MeshClient(stack.clientOptions());
    try {
      assert.equal(a.exportEnv(), null);
      a.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt });
      const env = a.exportEnv();
      assert.deepEqual(env, {
        MESH_ACCESS_TOKEN: t.access_token,
        MESH_REFRESH_TOKEN: t.refresh_token,
        MESH_TOKEN_EXPIRES_AT: String(expiresAt),
      });
      stack.proxy.reset();
      const b = MeshClient.fromEnv({ ...env, MESH_TOKEN_FROM_ENV: 'true', UNRELATED: 'x' }, stack.clientOptions());
      try {
        assert.equal(await b.getAccessToken(), t.access_token);
        assert.equal(stack.proxy.count(), 0);
        const res = await b.fetch('/auth/validate');
        assert.equal(res.status, 200);
      } finally {
        b.dispose();
      }
      // An expired env session is refreshed with its refresh token.
      const c = MeshClient.fromEnv({ ...env, MESH_TOKEN_EXPIRES_AT: String(nowSeconds() - 10) }, stack.clientOptions());
      try {
        const fresh = await c.getAccessToken();
        assert.notEqual(fresh, t.access_token);
        assert.deepEqual(stack.proxy.refreshTokensSent, [t.refresh_token]);
      } finally {
        c.dispose();
      }
    } finally {
      a.dispose();
    }
  });

  test('fromEnv without the variables, or with a bad expiry, fails clearly', T, () => {
    assert.throws(() => MeshClient.fromEnv({}, stack.clientOptions()), (err) => /MESH_ACCESS_TOKEN/.test(err.message) && typeof err.code === 'string');
    assert.throws(
      () => MeshClient.fromEnv({ MESH_ACCESS_TOKEN: 'abc.def.ghi', MESH_TOKEN_EXPIRES_AT: 'tomorrow' }, stack.clientOptions()),
      (err) => /MESH_TOKEN_EXPIRES_AT/.test(err.message) && !errorTexts(err).includes('abc.def.ghi'),
    );
  });

  test('setSession rejects bad input, naming the field', T, () => {
    const client = new MeshClient(stack.clientOptions());
    try {
      assert.throws(() => client.setSession({ refreshToken: 'r', expiresAt: nowSeconds() + 60 }), (err) => /accessToken/.test(err.message));
      assert.throws(() => client.setSession({ accessToken: 'a.b.c', expiresAt: 'soon' }), (err) => /expiresAt/.test(err.message));
      assert.throws(() => client.setSession({ accessToken: 'a.b.c', expiresAt: nowSeconds() + 60.5 }), (err) => /expiresAt/.test(err.message) && err.code === 'invalid_config');
      assert.throws(() => client.setSession({ accessToken: '   ' }), (err) => /accessToken/.test(err.message) && err.code === 'invalid_config');
      assert.throws(() => client.setSession('a.b.c'), (err) => /session/.test(err.message));
      // A field it does not read would be dropped, and the session run without the expiry given.
      const refused = (input, pattern) => assert.throws(() => client.setSession(input), (err) => err.code === 'invalid_config' && pattern.test(err.message) && !errorTexts(err).includes('a.b.c'));
      refused({ accessToken: 'a.b.c', expiresIn: 3600 }, /`expiresIn`.*give expiresAt/);
      refused({ access_token: 'a.b.c', refresh_token: 'r', expires_in: 3600 }, /`access_token`.*did you mean `accessToken`/);
      refused({ accessToken: 'a.b.c', expiresAt: 3600 }, /expiresAt.*not a duration/);
      assert.equal(client.getSession(), null, 'nothing refused was kept');
    } finally {
      client.dispose();
    }
  });

  test('setSession without expiresAt takes the JWT\'s exp in seconds, and no other magnitude', T, () => {
    const client = new MeshClient(stack.clientOptions());
    const jwt = (claims) => ['{"alg":"none"}', JSON.stringify(claims)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.sig';
    try {
      const exp = nowSeconds() + 600;
      client.setSession({ accessToken: jwt({ sub: 'u1', exp }) });
      assert.equal(client.getSession().expiresAt, exp);
      // In milliseconds it would read as 50,000 years out: no proactive refresh, ever.
      client.setSession({ accessToken: jwt({ sub: 'u1', exp: exp * 1000 }) });
      assert.equal(client.getSession().expiresAt, null, 'an exp in milliseconds leaves the expiry unknown (a 401 refreshes)');
    } finally {
      client.dispose();
    }
  });

  test('logout revokes the refresh token at the provider, clears storage and ends the session', T, async () => {
    const t = await tokens();
    const storage = recordingStorage();
    const client = new MeshClient(stack.clientOptions({ storage }));
    const events = recordEvents(client);
    let unsubscribedCalls = 0;
    const off = client.on('sessionEnded', () => { unsubscribedCalls++; });
    assert.equal(typeof off, 'function', 'on() returns an unsubscribe function');
    off();
    const order = [];
    client.on('sessionEnded', () => {
      order.push('first');
      client.on('sessionEnded', () => order.push('added during the emit'));
      throw new Error('a handler that throws');
    });
    client.on('sessionEnded', () => order.push('second'));
    try {
      client.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
      await client.getAccessToken();
      stack.proxy.reset();
      await client.logout();
      assert.equal(unsubscribedCalls, 0, 'an unsubscribed handler is not called');
      assert.deepEqual(order, ['first', 'second'], 'a handler that throws stops no other; one added during an emit waits for the next');
      const revocations = stack.proxy.requests.filter((r) => r.kind === 'revocation');
      assert.equal(revocations.length, 1);
      assert.equal(revocations[0].token, t.refresh_token);
      assert.equal(revocations[0].status, 200);
      assert.equal(storage.dump(), '', 'storage cleared');
      assert.equal(client.exportEnv(), null);
      assert.deepEqual(events.of('sessionEnded').map((e) => e.reason), ['logout']);
      await assert.rejects(client.getAccessToken(), (err) => err.code === 'not_logged_in');
      // Really revoked: the provider refuses the refresh token now.
      const res = await fetch(`${stack.op.issuer}/token`, {
        method: 'POST',
        body: new URLSearchParams({ client_id: 'mesh-demo', grant_type: 'refresh_token', refresh_token: t.refresh_token }),
      });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, 'invalid_grant');
    } finally {
      client.dispose();
    }
  });

  test('after dispose, calls reject with disposed', T, async () => {
    const t = await tokens();
    const client = new MeshClient(stack.clientOptions());
    client.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in });
    client.dispose();
    await assert.rejects(client.getAccessToken(), (err) => err.code === 'disposed');
    client.dispose(); // twice is fine
  });

  for (const scenario of ['refresh', 'polling']) {
    test(`dispose leaves no timer behind (${scenario}): the process exits on its own`, T, async () => {
      const t = scenario === 'refresh' ? await tokens() : null;
      const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/dispose-child.mjs', import.meta.url))], {
        env: {
          ...process.env,
          MESH_TEST_SCENARIO: scenario,
          MESH_TEST_OPTIONS: JSON.stringify(stack.clientOptions({ refreshLeewaySeconds: 30 })),
          MESH_TEST_SESSION: t ? JSON.stringify({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: t.receivedAt + t.expires_in }) : '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      // Generous: the child does its work in about a second; a leaked timer
      // (proactive refresh, device polling) would keep it alive far longer.
      const exited = await new Promise((resolve) => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 25_000);
        child.on('exit', (code) => { clearTimeout(timer); resolve(code); });
      });
      assert.notEqual(exited, null, `the child did not exit within 25 s after dispose():\n${out}`);
      assert.equal(exited, 0, out);
      assert.match(out, /disposed/);
    });
  }
});
