// The token endpoint misbehaves (500, 429 + Retry-After, hangs, drops the
// connection, invalid_grant); each test asserts what the client then did: how
// many requests, which events, what ended up in storage.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MeshClient } from '../../pkg/node.js';
import {
  nowSeconds, rawDeviceLogin, recordEvents, recordingStorage, sleep, startStack,
} from '../support/stack.mjs';

const T = { timeout: 60_000 };
const REFRESH = { grantType: 'refresh_token' };

describe('token endpoint faults', () => {
  let stack;
  before(async () => { stack = await startStack({ accessTokenTtl: 60 }); });
  after(() => stack?.close());

  /**
   * A client with real tokens from the provider. `expiresIn` sets the
   * session's expiresAt relative to now (negative: already expired).
   */
  async function seededClient({ expiresIn = -5, ...extra } = {}) {
    const t = await rawDeviceLogin(stack.op.issuer);
    const storage = recordingStorage();
    const client = new MeshClient(stack.clientOptions({ storage, ...extra }));
    client.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: nowSeconds() + expiresIn });
    stack.proxy.reset();
    const events = recordEvents(client);
    return { client, storage, events, t };
  }

  test('500: retried with backoff a bounded number of times, one failure for all, then a cooldown', T, async () => {
    const { client, storage, events, t } = await seededClient({ maxRefreshRetries: 2, refreshCooldownMs: 2000 });
    try {
      stack.proxy.failNext(50, { status: 500 }, REFRESH);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => client.getAccessToken()));
      assert.ok(results.every((r) => r.status === 'rejected' && r.reason.code === 'refresh_failed'),
        JSON.stringify(results.map((r) => r.reason?.code ?? 'ok')));
      assert.equal(stack.proxy.count('refresh_token'), 3, '1 request + 2 retries');
      const at = stack.proxy.tokenRequests('refresh_token').map((r) => r.at);
      assert.ok(at[1] - at[0] >= 200 && at[2] - at[1] >= 200, `backoff between retries: ${at[1] - at[0]}, ${at[2] - at[1]} ms`);
      assert.equal(events.of('refreshFailed').length, 1);
      assert.equal(events.of('refreshFailed')[0].error.code, 'refresh_failed');
      assert.equal(events.of('sessionEnded').length, 0, 'a 5xx never ends the session');
      assert.ok(storage.dump().includes(t.refresh_token), 'the session stays in storage');

      // Cooldown: callers do not hammer the endpoint.
      const during = await Promise.allSettled(Array.from({ length: 100 }, () => client.getAccessToken()));
      assert.ok(during.every((r) => r.status === 'rejected'));
      assert.equal(stack.proxy.count('refresh_token'), 3, 'no request during the cooldown');

      // After the cooldown, with the endpoint healthy again, the same refresh token works.
      stack.proxy.clearFaults();
      await sleep(2300);
      const token = await client.getAccessToken();
      assert.notEqual(token, t.access_token);
      assert.equal(stack.proxy.count('refresh_token'), 4);
      assert.deepEqual(stack.proxy.reusedRefreshTokens(), []);
      assert.equal(events.of('refreshed').length, 1);
    } finally {
      stack.proxy.clearFaults();
      client.dispose();
    }
  });

  test('429 with Retry-After: waits as told, then succeeds', T, async () => {
    const { client, events, t } = await seededClient();
    try {
      stack.proxy.failNext(1, { status: 429, retryAfter: 2 }, REFRESH);
      const token = await client.getAccessToken();
      assert.notEqual(token, t.access_token);
      const reqs = stack.proxy.tokenRequests('refresh_token');
      assert.equal(reqs.length, 2);
      assert.ok(reqs[1].at - reqs[0].at >= 1900, `Retry-After honoured: ${reqs[1].at - reqs[0].at} ms`);
      assert.equal(events.of('refreshed').length, 1);
      assert.equal(events.of('sessionEnded').length, 0);
    } finally {
      stack.proxy.clearFaults();
      client.dispose();
    }
  });

  test('429 while the access token is still valid: the valid token keeps being served, no storm', T, async () => {
    // expiresAt 6 s ahead: after 3.1 s less than half the lifetime remains,
    // so a refresh is due while the token is still valid (for about 2 s more).
    const { client, storage, events, t } = await seededClient({ expiresIn: 6, maxRefreshRetries: 0, refreshCooldownMs: 10_000 });
    try {
      await sleep(3100);
      stack.proxy.failNext(100, { status: 429, retryAfter: 30 }, REFRESH);
      const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getAccessToken()));
      assert.deepEqual(new Set(tokens), new Set([t.access_token]), 'the still-valid token is served');
      assert.equal(stack.proxy.count('refresh_token'), 1);
      for (let i = 0; i < 20; i++) assert.equal(await client.getAccessToken(), t.access_token);
      assert.equal(stack.proxy.count('refresh_token'), 1, 'cooldown: no further request');
      assert.equal(events.of('refreshFailed').length, 1);
      assert.equal(events.of('sessionEnded').length, 0);
      assert.ok(storage.dump().includes(t.refresh_token));
      // The API still accepts it.
      const res = await client.fetch('/auth/validate');
      assert.equal(res.status, 200);
    } finally {
      stack.proxy.clearFaults();
      client.dispose();
    }
  });

  test('invalid_grant ends the session at once: storage cleared, sessionEnded, no retry', T, async () => {
    const { client, storage, events, t } = await seededClient();
    try {
      stack.proxy.failNext(1, 'invalid_grant', REFRESH);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => client.getAccessToken()));
      assert.ok(results.every((r) => r.status === 'rejected' && r.reason.code === 'session_ended'),
        JSON.stringify(results.map((r) => r.reason?.code ?? 'ok')));
      assert.equal(stack.proxy.count('refresh_token'), 1);
      assert.equal(events.of('sessionEnded').length, 1);
      assert.equal(events.of('refreshFailed').length, 0);
      assert.ok(!storage.dump().includes(t.refresh_token), 'refresh token removed from storage');
      assert.ok(!storage.dump().includes(t.access_token), 'access token removed from storage');
      assert.equal(client.exportEnv(), null);
      await assert.rejects(client.getAccessToken(), (err) => ['session_ended', 'not_logged_in'].includes(err.code));
      await sleep(1000);
      assert.equal(stack.proxy.count('refresh_token'), 1, 'no retry, ever');
    } finally {
      client.dispose();
    }
  });

  test('a refresh token spent elsewhere: the real provider says invalid_grant, the session ends', T, async () => {
    const { client, storage, events, t } = await seededClient();
    try {
      // Someone else (a copied .env, another process) uses the refresh token first.
      const spent = await fetch(`${stack.op.issuer}/token`, {
        method: 'POST',
        body: new URLSearchParams({ client_id: 'mesh-demo', grant_type: 'refresh_token', refresh_token: t.refresh_token }),
      });
      assert.equal(spent.status, 200);
      await assert.rejects(client.getAccessToken(), (err) => err.code === 'session_ended');
      const [req] = stack.proxy.tokenRequests('refresh_token');
      assert.equal(req.status, 400, 'the provider rejected the reuse');
      assert.equal(stack.proxy.count('refresh_token'), 1);
      assert.equal(events.of('sessionEnded').length, 1);
      assert.equal(storage.dump(), '', 'storage empty');
    } finally {
      client.dispose();
    }
  });

  test('a token endpoint that hangs: the call ends with timeout, not a hang', T, async () => {
    const { client, events } = await seededClient({ timeoutMs: 1500, maxRefreshRetries: 0 });
    try {
      stack.proxy.failNext(5, 'hang', REFRESH);
      const started = Date.now();
      await assert.rejects(client.getAccessToken(), (err) => {
        assert.ok(['timeout', 'refresh_failed'].includes(err.code), err.code);
        // refresh_failed must say why.
        if (err.code === 'refresh_failed') assert.equal(err.cause?.code, 'timeout');
        return true;
      });
      // A bound against hanging, not a performance figure.
      assert.ok(Date.now() - started < 1500 + 8000, `took ${Date.now() - started} ms`);
      assert.equal(stack.proxy.count('refresh_token'), 1);
      assert.equal(events.of('refreshFailed').length, 1);
    } finally {
      stack.proxy.clearFaults();
      client.dispose();
    }
  });

  test('a connection dropped after the request arrived: the refresh token is not re-sent', T, async () => {
    // The provider may have rotated the token and sent the new one into the
    // void: re-sending the old one would be a reuse, which revokes the grant.
    const { client, events } = await seededClient({ expiresIn: 6 });
    try {
      await sleep(3100); // refresh due, access token still valid
      stack.proxy.failNext(1, 'reset', REFRESH);
      const token = await client.getAccessToken().catch((err) => err);
      assert.equal(stack.proxy.count('refresh_token'), 1, 'one request, no blind re-send');
      assert.equal(events.of('refreshFailed').length, 1);
      if (token instanceof Error) assert.equal(token.code, 'refresh_failed');
      assert.deepEqual(stack.proxy.reusedRefreshTokens(), []);
      await Promise.allSettled(Array.from({ length: 20 }, () => client.getAccessToken()));
      assert.equal(stack.proxy.count('refresh_token'), 1, 'still one request');
    } finally {
      stack.proxy.clearFaults();
      client.dispose();
    }
  });
});
