// Device authorization grant (RFC 8628) through the built package, against the
// real oidc-provider; the user approves or denies on the provider's own pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MeshClient } from '../../pkg/node.js';
import {
  DEVICE_GRANT as DEVICE, approveDevice, jwtPayload, nowSeconds, recordingStorage, sleep, startStack,
} from '../support/stack.mjs';

const T = { timeout: 60_000 };

describe('device login', () => {
  let stack;
  before(async () => { stack = await startStack({ accessTokenTtl: 30 }); });
  after(() => stack?.close());

  test('approved on the provider pages: session with tokens, polls spaced by the interval, one poll at a time', T, async () => {
    stack.proxy.reset();
    const storage = recordingStorage();
    const client = new MeshClient(stack.clientOptions({ storage }));
    try {
      const login = await client.startDeviceLogin();
      assert.match(login.userCode, /\S{4,}/);
      assert.ok(login.verificationUri.startsWith('http://127.0.0.1:'), login.verificationUri);
      assert.ok(login.verificationUriComplete.includes(encodeURIComponent(login.userCode)) || login.verificationUriComplete.includes(login.userCode));
      assert.equal(login.interval, 1);
      assert.ok(login.expiresIn > 500 && login.expiresIn <= 600, String(login.expiresIn));

      const completing = client.completeDeviceLogin(login);
      // Let it poll a couple of times (authorization_pending) before approving.
      await stack.proxy.waitFor(() => stack.proxy.count('device_code') >= 2, { what: 'two polls' });
      const approval = await approveDevice({ verificationUriComplete: login.verificationUriComplete, login: 'demo', password: 'demo' });
      assert.equal(approval.outcome, 'approved');
      const session = await completing;

      assert.equal(jwtPayload(session.accessToken).sub, 'user-demo-1');
      assert.equal(jwtPayload(session.accessToken).aud, stack.op.audience);
      assert.ok(session.refreshToken, 'a refresh token (offline_access)');
      assert.ok(Math.abs(session.expiresAt - (nowSeconds() + 30)) <= 3, `expiresAt ${session.expiresAt}`);

      const polls = stack.proxy.tokenRequests('device_code');
      assert.ok(polls.length >= 3, `polls: ${polls.length}`);
      for (let i = 1; i < polls.length; i++) {
        // Never faster than the interval (1 s); a little slack for clock granularity.
        assert.ok(polls[i].at - polls[i - 1].at >= 950, `poll ${i} came ${polls[i].at - polls[i - 1].at} ms after the previous`);
      }
      // The tokens went straight into the session and into storage.
      const before = stack.proxy.count();
      assert.equal(await client.getAccessToken(), session.accessToken);
      assert.equal(stack.proxy.count(), before, 'no token request for a fresh token');
      assert.ok(storage.dump().includes(session.refreshToken), 'refresh token stored');
      const res = await client.fetch('/auth/validate');
      assert.equal(res.status, 200);
      assert.equal((await res.json()).userId, 'user-demo-1');
    } finally {
      client.dispose();
    }
  });

  test('extraParams go on the device authorization request; one the login sets itself is refused before anything is sent', T, async () => {
    stack.proxy.reset();
    const client = new MeshClient(stack.clientOptions({ storage: 'memory' }));
    try {
      const login = await client.startDeviceLogin({ extraParams: { mesh_session: 'long', acr_values: 'x' } });
      assert.match(login.userCode, /\S{4,}/);
      const [sent] = stack.proxy.requests.filter((r) => r.kind === 'device_authorization');
      assert.deepEqual([sent.params.mesh_session, sent.params.acr_values, sent.status], ['long', 'x', 200]);
      stack.proxy.reset();
      for (const [name, problem] of [['client_id', 'may not set client_id'], ['scope', 'may not set scope'], ['audience', 'may not set audience'], ['resource', 'may not set resource'], ['a b', 'parameter names are letters, digits, _, - and .']]) {
        await assert.rejects(client.startDeviceLogin({ extraParams: { [name]: 'evil' } }), (e) => {
          assert.equal(e.code, 'invalid_config');
          assert.equal(e.message, `option \`extraParams\`: ${problem}`);
          return true;
        });
      }
      assert.equal(stack.proxy.requests.length, 0, 'no request left');
    } finally {
      client.dispose();
    }
  });

  test('the second user gets their own identity', T, async () => {
    const client = new MeshClient(stack.clientOptions());
    try {
      const login = await client.startDeviceLogin();
      const [session] = await Promise.all([
        client.completeDeviceLogin(login),
        approveDevice({ verificationUri: login.verificationUri, userCode: login.userCode, login: 'demo2', password: 'demo2' }),
      ]);
      assert.equal(jwtPayload(session.accessToken).sub, 'user-demo-2');
    } finally {
      client.dispose();
    }
  });

  for (const where of ['confirm', 'consent']) {
    test(`denied on the ${where} page -> access_denied, nothing stored`, T, async () => {
      const storage = recordingStorage();
      const client = new MeshClient(stack.clientOptions({ storage }));
      try {
        const login = await client.startDeviceLogin();
        const completing = client.completeDeviceLogin(login);
        const approval = await approveDevice({ verificationUriComplete: login.verificationUriComplete, deny: where });
        assert.equal(approval.outcome, 'denied');
        await assert.rejects(completing, (err) => {
          assert.equal(err.code, 'access_denied');
          assert.equal(err.name, 'MeshError');
          return true;
        });
        assert.equal(storage.calls.filter(([op]) => op === 'set').length, 0, 'nothing stored');
        assert.equal(client.exportEnv(), null);
      } finally {
        client.dispose();
      }
    });
  }

  test('aborted by an AbortSignal: rejects with aborted and stops polling', T, async () => {
    stack.proxy.reset();
    const client = new MeshClient(stack.clientOptions());
    try {
      const login = await client.startDeviceLogin();
      const ac = new AbortController();
      const completing = client.completeDeviceLogin(login, { signal: ac.signal });
      await stack.proxy.waitFor(() => stack.proxy.count('device_code') >= 1, { what: 'a poll' });
      ac.abort();
      await assert.rejects(completing, (err) => err.code === 'aborted');
      const polls = stack.proxy.count('device_code');
      await sleep(2500);
      assert.equal(stack.proxy.count('device_code'), polls, 'no poll after the abort');
    } finally {
      client.dispose();
    }
  });

  test('cancelDeviceLogin while completeDeviceLogin polls: it rejects with aborted (not a config error) and polling stops', T, async () => {
    stack.proxy.reset();
    const client = new MeshClient(stack.clientOptions());
    try {
      const login = await client.startDeviceLogin();
      const completing = client.completeDeviceLogin(login);
      await stack.proxy.waitFor(() => stack.proxy.count('device_code') >= 1, { what: 'a poll' });
      client.cancelDeviceLogin(login); // the page's "Cancel" button
      await assert.rejects(completing, (err) => {
        assert.equal(err.code, 'aborted');
        assert.match(err.message, /cancelled/);
        return true;
      });
      const polls = stack.proxy.count('device_code');
      await sleep(2500);
      assert.equal(stack.proxy.count('device_code'), polls, 'no poll after the cancel');
      await assert.rejects(client.completeDeviceLogin(login), (err) => err.code === 'aborted');
    } finally {
      client.dispose();
    }
  });

  test('one login, one poller: a second completeDeviceLogin is refused; after an abort the same login completes', T, async () => {
    stack.proxy.reset();
    const client = new MeshClient(stack.clientOptions());
    try {
      const login = await client.startDeviceLogin();
      const ac = new AbortController();
      const first = client.completeDeviceLogin(login, { signal: ac.signal });
      await assert.rejects(client.completeDeviceLogin(login), (err) => {
        assert.equal(err.code, 'invalid_config');
        assert.match(err.message, /already being completed/);
        return true;
      });
      await stack.proxy.waitFor(() => stack.proxy.count('device_code') >= 1, { what: 'a poll' });
      ac.abort();
      await assert.rejects(first, (err) => err.code === 'aborted');

      // The user can still approve the same code, and a new poller picks it up.
      const [session] = await Promise.all([
        client.completeDeviceLogin(login),
        approveDevice({ verificationUriComplete: login.verificationUriComplete, login: 'demo', password: 'demo' }),
      ]);
      assert.equal(jwtPayload(session.accessToken).sub, 'user-demo-1');
      // A completed login is spent: completing it again is refused, not re-polled.
      const polls = stack.proxy.count('device_code');
      await assert.rejects(client.completeDeviceLogin(login), (err) => err.code === 'invalid_config');
      assert.equal(stack.proxy.count('device_code'), polls);
    } finally {
      client.dispose();
    }
  });

  test('a slow token endpoint: never two polls in flight, Retry-After on a 503 honoured', T, async () => {
    stack.proxy.reset();
    const client = new MeshClient(stack.clientOptions());
    try {
      const login = await client.startDeviceLogin();
      // Polls 1-2 answer after 2.5 s (longer than the 1 s interval); poll 3 gets 503 + Retry-After: 3.
      stack.proxy.failNext(2, { delayMs: 2500 }, { grantType: DEVICE });
      stack.proxy.failNext(1, { status: 503, retryAfter: 3 }, { grantType: DEVICE });
      const completing = client.completeDeviceLogin(login);
      await stack.proxy.waitFor(() => stack.proxy.count('device_code') >= 4, { timeoutMs: 30_000, what: 'four polls' });
      await approveDevice({ verificationUriComplete: login.verificationUriComplete });
      const session = await completing;
      assert.ok(session.accessToken);
      const polls = stack.proxy.tokenRequests('device_code');
      for (let i = 1; i < polls.length; i++) {
        assert.ok(polls[i].at >= polls[i - 1].doneAt, `poll ${i} started before poll ${i - 1} was answered`);
      }
      assert.equal(polls[2].fault, JSON.stringify({ status: 503, retryAfter: 3 }));
      assert.ok(polls[3].at - polls[2].doneAt >= 2900, `Retry-After honoured: ${polls[3].at - polls[2].doneAt} ms`);
    } finally {
      stack.proxy.clearFaults();
      client.dispose();
    }
  });

  test('slow_down adds 5 s to the interval, kept for later polls', { timeout: 90_000 }, async () => {
    stack.proxy.reset();
    const client = new MeshClient(stack.clientOptions());
    try {
      const login = await client.startDeviceLogin();
      stack.proxy.failNext(1, 'slow_down', { grantType: DEVICE });
      const completing = client.completeDeviceLogin(login);
      // Poll 1: slow_down (injected). Poll 2: pending (real). Then approve; poll 3 succeeds.
      await stack.proxy.waitFor(() => stack.proxy.count('device_code') >= 2, { timeoutMs: 20_000, what: 'second poll' });
      await approveDevice({ verificationUriComplete: login.verificationUriComplete });
      const session = await completing;
      assert.ok(session.accessToken);
      const polls = stack.proxy.tokenRequests('device_code');
      assert.equal(polls[0].fault, 'slow_down');
      assert.equal(polls.length, 3, `polls: ${polls.length}`);
      assert.ok(polls[1].at - polls[0].at >= 5900, `after slow_down: ${polls[1].at - polls[0].at} ms`);
      assert.ok(polls[2].at - polls[1].at >= 5900, `the longer interval is kept: ${polls[2].at - polls[1].at} ms`);
    } finally {
      client.dispose();
    }
  });
});

describe('device login that expires', () => {
  let stack;
  before(async () => { stack = await startStack({ deviceCodeTtl: 3 }); });
  after(() => stack?.close());

  test('nobody approves -> device_code_expired, polling stops', T, async () => {
    const client = new MeshClient(stack.clientOptions());
    try {
      const login = await client.startDeviceLogin();
      assert.ok(login.expiresIn <= 3);
      await assert.rejects(client.completeDeviceLogin(login), (err) => {
        assert.equal(err.code, 'device_code_expired');
        return true;
      });
      const polls = stack.proxy.count('device_code');
      assert.ok(polls <= 5, `polls: ${polls}`);
      await sleep(1500);
      assert.equal(stack.proxy.count('device_code'), polls, 'no poll after expiry');
    } finally {
      client.dispose();
    }
  });
});
