// Issue 18, "API keys: revocation that is immediate": key records in
// Durable Objects (MESH_KEYS_STORE=do) on three gateway instances bound to
// one KeyShard namespace. A key is revoked while all three hammer it: on the
// instances with MESH_KEYS_CACHE_SECONDS=0 no request that starts after the
// revoke call returned is accepted; on the one with a cache of N seconds,
// none that starts N seconds after it. Then the lazy migration: a key made
// under `kv` works, is listed and is revoked under `do`, and a key made
// under `do` lives in the Durable Object only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startOrigin } from '../../scripts/servers/origin.mjs';
import { AGENT, callAt, hammer, startKeysEdge, userTokens } from '../support/edge-keys.mjs';
import { sleep } from '../support/http.mjs';
import { startWrangler } from '../support/wrangler.mjs';

const CACHE_SECS = 2;

describe('revocation on three instances', () => {
  let s;
  before(async () => {
    s = await startKeysEdge({
      vars: { MESH_KEYS_STORE: 'do' },
      // Instances 0 and 1 always ask; instance 2 may reuse a record for CACHE_SECS.
      varsPer: [{}, {}, { MESH_KEYS_CACHE_SECONDS: String(CACHE_SECS) }],
    });
  });
  after(async () => { await s?.stop(); });

  test('no request that starts after the revoke returned is accepted (cache 0), none after N s (cache N)', async () => {
    const alice = await s.token('alice');
    const key = await s.createKey(0, alice, { name: 'leaked' });
    for (let i = 0; i < 3; i++) {
      const r = await s.call(i, AGENT, { token: key.key });
      assert.equal(r.status, 200, `instance ${i} before the revoke: ${r.status} ${r.text}`);
    }
    let revokedAt = Infinity;
    const done = () => Date.now() > revokedAt + CACHE_SECS * 1000 + 1500;
    const hammering = hammer(s, key.key, { loops: [2, 2, 2], until: done });
    await sleep(800);
    const r = await s.call(1, `/api/v1/keys/${key.id}`, { token: alice, method: 'DELETE' });
    revokedAt = Date.now();
    assert.equal(r.status, 204, r.text);
    const results = await hammering;

    const before = results.filter((x) => x.end < revokedAt);
    assert.ok([0, 1, 2].every((i) => before.some((x) => x.i === i && x.status === 200)), 'every instance accepted the key before');
    assert.deepEqual([...new Set(results.map((x) => x.status))].filter((st) => st !== 200 && st !== 401), [], 'only 200 or 401');
    const late = (x) => x.status === 200 && x.start > revokedAt + (x.i === 2 ? CACHE_SECS * 1000 : 0);
    assert.deepEqual(results.filter(late), [], 'accepted after the bound');
    const after0 = results.filter((x) => x.start > revokedAt && x.i < 2);
    const afterN = results.filter((x) => x.start > revokedAt + CACHE_SECS * 1000 && x.i === 2);
    assert.ok(after0.length >= 10 && afterN.length >= 5, `enough requests after the revoke: ${after0.length}, ${afterN.length}`);
    // Within the bound the cached record may still be accepted: how often shows the cache at work.
    const cached = results.filter((x) => x.i === 2 && x.status === 200 && x.start > revokedAt).length;
    console.log(`# ${results.length} requests; ${after0.length} after the revoke on cache 0, ${afterN.length} after ${CACHE_SECS} s on cache ${CACHE_SECS}; ${cached} accepted from the cache within ${CACHE_SECS} s`);
  });

  test('a key created on one instance is known at once on the others (no negative cache with cache 0)', async () => {
    const bob = await s.token('bob');
    // A well-formed unknown key first, so an isolate could remember it as unknown.
    const r0 = await s.call(1, AGENT, { token: `mesh_sk_${'A'.repeat(43)}` });
    assert.equal(r0.status, 401);
    const key = await s.createKey(0, bob, { name: 'fresh' });
    assert.equal((await s.call(1, AGENT, { token: key.key })).status, 200);
    const listed = await s.call(2, '/api/v1/keys', { token: bob });
    assert.deepEqual(listed.json.keys.map((k) => k.id), [key.id], 'listed from another instance');
  });
});

describe('migration from kv to do', () => {
  let origin, dir;
  const users = { vars: {}, token: null };
  before(async () => {
    origin = await startOrigin();
    Object.assign(users, userTokens(origin.url));
    dir = mkdtempSync(path.join(tmpdir(), 'mesh-keys-migrate-'));
  });
  after(async () => {
    await origin?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });
  /** A gateway on the shared state with `store`, for the duration of `f`. */
  async function withGateway(store, f) {
    const gw = await startWrangler({ persistTo: dir, vars: { ...users.vars, MESH_KEYS_STORE: store } });
    try { return await f((p, o) => callAt(gw.url, p, o)); } finally { await gw.stop(); }
  }

  test('a kv key keeps working under do, is listed and revoked there; a do key lives in the object only', async () => {
    const carol = await users.token('carol');
    const old = await withGateway('kv', async (call) => {
      const r = await call('/api/v1/keys', { token: carol, method: 'POST', body: { name: 'made-under-kv' } });
      assert.equal(r.status, 201, r.text);
      return r.json;
    });
    const made = await withGateway('do', async (call) => {
      assert.equal((await call(AGENT, { token: old.key })).status, 200, 'the kv key works under do');
      const fresh = (await call('/api/v1/keys', { token: carol, method: 'POST', body: { name: 'made-under-do' } })).json;
      assert.equal((await call(AGENT, { token: fresh.key })).status, 200);
      const listed = (await call('/api/v1/keys', { token: carol })).json.keys.map((k) => k.name);
      assert.deepEqual(listed, ['made-under-kv', 'made-under-do']);
      assert.equal((await call(`/api/v1/keys/${old.id}`, { token: carol, method: 'DELETE' })).status, 204);
      assert.equal((await call(AGENT, { token: old.key })).status, 401, 'revoked under do');
      assert.deepEqual((await call('/api/v1/keys', { token: carol })).json.keys.map((k) => k.name), ['made-under-do']);
      return fresh;
    });
    await withGateway('kv', async (call) => {
      assert.equal((await call(AGENT, { token: old.key })).status, 401, 'the revoke deleted the kv copy too');
      assert.equal((await call(AGENT, { token: made.key })).status, 401, 'a do key is not in kv');
    });
  });
});
