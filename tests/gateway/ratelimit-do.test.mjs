// Issue 18, "Global rate limits": with MESH_RATE_LIMIT_STORE=do a key's
// limit is counted in one RateLimitShard for every instance, so a limit of
// L per minute across three instances admits L (plus the bucket's refill
// while the burst lasts), not 3L; over it, 429 with Retry-After. When the
// object cannot be reached (instance 0, which hosts the objects, stopped),
// MESH_RATE_LIMIT_UNREACHABLE decides: `closed` (the default) answers 503,
// `open` lets the request through and logs it; keys without a limit never
// ask. Key records are in KeyShards too (KV's local copies are not shared
// at once between wrangler processes), cached by each isolate long enough
// that only the rate-limit object goes away when the host stops.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AGENT, hammer, startKeysEdge } from '../support/edge-keys.mjs';
import { sleep } from '../support/http.mjs';

const LIMIT = 20;

describe('rate limits on three instances', () => {
  let s, alice;
  before(async () => {
    s = await startKeysEdge({
      vars: { MESH_RATE_LIMIT_STORE: 'do', MESH_KEYS_STORE: 'do', MESH_KEYS_CACHE_SECONDS: '300' },
      varsPer: [{}, {}, { MESH_RATE_LIMIT_UNREACHABLE: 'open' }],
    });
    alice = await s.token('alice');
  });
  after(async () => { await s?.stop(); });

  test(`a limit of ${LIMIT} per minute admits ${LIMIT} across three instances, then 429 with Retry-After`, async () => {
    const key = await s.createKey(0, alice, { name: 'limited', rateLimit: LIMIT });
    const started = Date.now();
    const results = await hammer(s, key.key, { loops: [2, 2, 2], until: () => false, max: 3 * LIMIT });
    const secs = (Date.now() - started) / 1000;
    const ok = results.filter((x) => x.status === 200);
    const limited = results.filter((x) => x.status === 429);
    assert.equal(ok.length + limited.length, results.length, `only 200 or 429: ${results.map((x) => x.status)}`);
    // The bucket refills LIMIT per minute while the burst runs.
    const refill = Math.ceil((LIMIT * secs) / 60);
    assert.ok(ok.length >= LIMIT && ok.length <= LIMIT + refill, `${ok.length} admitted in ${secs} s (limit ${LIMIT}, refill ${refill})`);
    assert.ok(new Set(ok.map((x) => x.i)).size >= 2, 'admitted by several instances, counted once');
    assert.ok(limited.every((x) => Number(x.retryAfter) >= 1 && Number(x.retryAfter) <= 60), 'Retry-After in seconds');
    console.log(`# ${ok.length} of ${results.length} admitted in ${secs.toFixed(1)} s on 3 instances (limit ${LIMIT}/min)`);
  });

  test('with the object unreachable: closed answers 503, open lets through, unlimited keys never ask; then it recovers', async () => {
    const limited = await s.createKey(1, alice, { name: 'limited-2', rateLimit: 1000 });
    const free = await s.createKey(1, alice, { name: 'unlimited' });
    // Each instance's isolate caches both records before the host goes.
    for (const i of [1, 2]) {
      for (const k of [limited, free]) assert.equal((await s.call(i, AGENT, { token: k.key })).status, 200);
    }
    await s.edge.instances[0].stop();
    try {
      const closed = await s.call(1, AGENT, { token: limited.key });
      assert.equal(closed.status, 503, `closed: ${closed.status} ${closed.text}`);
      const open = await s.call(2, AGENT, { token: limited.key });
      assert.equal(open.status, 200, `open: ${open.status} ${open.text}`);
      const logged = () => s.edge.instances[2].jsonLogs().some((l) => l.event === 'rate_limit_unreachable' && l.admitted === true);
      for (let i = 0; i < 40 && !logged(); i++) await sleep(50);
      assert.ok(logged(), `logged: ${s.edge.instances[2].logs().slice(-1500)}`);
      assert.equal((await s.call(1, AGENT, { token: free.key })).status, 200, 'a key without a limit');
    } finally {
      await s.edge.restart(0);
    }
    let r;
    for (let i = 0; i < 20; i++) {
      r = await s.call(1, AGENT, { token: limited.key });
      if (r.status === 200) break;
      await sleep(500);
    }
    assert.equal(r.status, 200, 'recovered once the host is back');
  });
});
