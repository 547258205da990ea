// Proactive refresh and the refresh lock, through the built package, against
// the real provider with short-lived access tokens and rotating refresh tokens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { MeshClient } from '../../pkg/node.js';
import {
  approveDevice, loginClient, nowSeconds, rawDeviceLogin, recordEvents, recordingStorage, sleep, startStack,
} from '../support/stack.mjs';

const T = { timeout: 60_000 };

describe('proactive refresh (6 s access tokens)', () => {
  let stack;
  before(async () => { stack = await startStack({ accessTokenTtl: 6 }); });
  after(() => stack?.close());

  test('no refresh while more than the (capped) leeway remains; one refresh once it is due', T, async () => {
    const storage = recordingStorage();
    // Leeway 60 s on a 6 s token: capped at half the lifetime (3 s), so the
    // token is not refreshed on every call.
    const client = new MeshClient(stack.clientOptions({ storage, refreshLeewaySeconds: 60 }));
    const events = recordEvents(client);
    try {
      const { session } = await loginClient(client);
      stack.proxy.reset();
      for (let i = 0; i < 20; i++) assert.equal(await client.getAccessToken(), session.accessToken);
      assert.equal(stack.proxy.count('refresh_token'), 0, 'no refresh in the first half of the lifetime');

      await sleep(3600); // past half the lifetime, before expiry
      const fresh = await client.getAccessToken();
      assert.notEqual(fresh, session.accessToken);
      assert.equal(stack.proxy.count('refresh_token'), 1);
      assert.deepEqual(stack.proxy.refreshTokensSent, [session.refreshToken]);
      const refreshed = events.of('refreshed');
      assert.equal(refreshed.length, 1);
      assert.ok(refreshed[0].expiresAt >= nowSeconds() + 4, `expiresAt ${refreshed[0].expiresAt}`);
      assert.equal(events.of('refreshFailed').length + events.of('sessionEnded').length, 0);

      // The rotated refresh token replaced the old one in storage.
      const env = client.exportEnv();
      assert.equal(env.MESH_ACCESS_TOKEN, fresh);
      assert.notEqual(env.MESH_REFRESH_TOKEN, session.refreshToken, 'rotated');
      assert.ok(storage.dump().includes(env.MESH_REFRESH_TOKEN));
      assert.ok(!storage.dump().includes(session.refreshToken), 'the spent refresh token is gone from storage');
      // And the new access token works at the API.
      const res = await client.fetch('/auth/validate');
      assert.equal(res.status, 200);
      assert.equal(stack.api.requests.at(-1).token, fresh);
    } finally {
      client.dispose();
    }
  });

  test('rotation over several refreshes: each refresh token is sent once, the session never breaks', { timeout: 90_000 }, async () => {
    const client = new MeshClient(stack.clientOptions({ refreshLeewaySeconds: 60 }));
    const events = recordEvents(client);
    try {
      await loginClient(client);
      stack.proxy.reset();
      const seen = new Set();
      for (let round = 0; round < 3; round++) {
        await sleep(3300);
        // Concurrent callers and API calls at the moment a refresh is due.
        const tokens = await Promise.all([
          ...Array.from({ length: 50 }, () => client.getAccessToken()),
          client.fetch('/auth/validate').then((r) => { assert.equal(r.status, 200); return null; }),
        ]);
        const distinct = new Set(tokens.filter(Boolean));
        assert.equal(distinct.size, 1, `round ${round}: all callers share one token`);
        seen.add([...distinct][0]);
      }
      assert.equal(seen.size, 3, 'a new token each round');
      assert.equal(stack.proxy.count('refresh_token'), 3, 'one refresh per round');
      assert.deepEqual(stack.proxy.reusedRefreshTokens(), [], 'no refresh token sent twice');
      // Each refresh used the token the previous one returned: the chain is unbroken.
      const sent = stack.proxy.refreshTokensSent;
      assert.equal(new Set(sent).size, sent.length);
      assert.equal(events.of('sessionEnded').length, 0);
      assert.equal(events.of('refreshed').length, 3);
    } finally {
      client.dispose();
    }
  });
});

describe('refresh lock (30 s access tokens)', () => {
  let stack;
  before(async () => { stack = await startStack({ accessTokenTtl: 30 }); });
  after(() => stack?.close());

  /** A client whose session is already expired (real tokens, expiresAt in the past). */
  async function expiredClient(extra = {}) {
    const t = await rawDeviceLogin(stack.op.issuer);
    const client = new MeshClient(stack.clientOptions(extra));
    client.setSession({ accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: nowSeconds() - 5 });
    stack.proxy.reset();
    return { client, t };
  }

  test('1,000 concurrent getAccessToken() at expiry: exactly one token request, one token for all', T, async () => {
    const { client, t } = await expiredClient();
    const events = recordEvents(client);
    try {
      stack.proxy.failNext(1, { delayMs: 300 }, { grantType: 'refresh_token' }); // keep the refresh in flight a while
      const first = Array.from({ length: 500 }, () => client.getAccessToken());
      await sleep(100); // a second wave arrives while the refresh is in flight
      const second = Array.from({ length: 500 }, () => client.getAccessToken());
      const tokens = await Promise.all([...first, ...second]);
      assert.equal(new Set(tokens).size, 1, 'every caller got the same token');
      assert.notEqual(tokens[0], t.access_token, 'a new token');
      assert.equal(stack.proxy.count('refresh_token'), 1, 'exactly one token request');
      assert.equal(stack.proxy.count(), 1, 'and no other token request');
      assert.deepEqual(stack.proxy.refreshTokensSent, [t.refresh_token]);
      assert.equal(events.of('refreshed').length, 1);
      // Afterwards the token is fresh: no more requests.
      await Promise.all(Array.from({ length: 100 }, () => client.getAccessToken()));
      assert.equal(stack.proxy.count('refresh_token'), 1);
    } finally {
      client.dispose();
    }
  });

  test('a failed refresh is shared: all waiters get the one failure, no retry per waiter', T, async () => {
    const { client } = await expiredClient({ maxRefreshRetries: 0, refreshCooldownMs: 5000 });
    const events = recordEvents(client);
    try {
      stack.proxy.failNext(100, { status: 500 }, { grantType: 'refresh_token' });
      const results = await Promise.allSettled(Array.from({ length: 200 }, () => client.getAccessToken()));
      assert.ok(results.every((r) => r.status === 'rejected'), 'all rejected');
      const codes = new Set(results.map((r) => r.reason.code));
      assert.deepEqual([...codes], ['refresh_failed']);
      assert.equal(stack.proxy.count('refresh_token'), 1, 'one request for 200 waiters');
      assert.equal(events.of('refreshFailed').length, 1);
      assert.equal(events.of('sessionEnded').length, 0);
    } finally {
      stack.proxy.clearFaults();
      client.dispose();
    }
  });

  test('clock skew and sleep: expiry comes from expires_in, and is checked on every call, not by a timer', T, async () => {
    // A child process whose Date.now() runs 1 h fast logs in. Had it trusted
    // the JWT's `exp` against its own clock, every token would look expired
    // and each call would refresh. Then its clock jumps 40 s (longer than the
    // 30 s token) with no timer firing, as when a laptop wakes up: the next
    // call must notice the expiry and refresh.
    stack.proxy.reset();
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/skewed-client.mjs', import.meta.url))], {
      env: { ...process.env, MESH_TEST_OPTIONS: JSON.stringify(stack.clientOptions()), MESH_TEST_SKEW_MS: String(3600_000) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = readline.createInterface({ input: child.stdout });
    const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    const report = {};
    try {
      for await (const line of lines) {
        const msg = JSON.parse(line);
        if (msg.verificationUriComplete) await approveDevice({ verificationUriComplete: msg.verificationUriComplete });
        if (msg.phase === 'skewed') {
          report.skewed = { ...msg, refreshes: stack.proxy.count('refresh_token') };
          child.stdin.write('sleep 40000\n');
        }
        if (msg.phase === 'woke') report.woke = { ...msg, refreshes: stack.proxy.count('refresh_token') };
        if (msg.done) { report.done = msg; break; }
      }
      assert.equal(report.done?.error, undefined, report.done?.error);
      assert.equal(report.skewed.distinctTokens, 1, 'ten calls, one token');
      assert.equal(report.skewed.refreshes, 0, 'no refresh with a skewed clock');
      assert.ok(Math.abs(report.skewed.expiresAt - (Math.floor(Date.now() / 1000) + 3600 + 30)) <= 5,
        `expiresAt is on the client's own clock: ${report.skewed.expiresAt}`);
      assert.equal(report.woke.newToken, true, 'a new token after the jump');
      assert.equal(report.woke.refreshes, 1, 'exactly one refresh');
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });
});
