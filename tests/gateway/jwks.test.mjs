// The JWKS at the gateway (issue 6, rule 3), against a key server on 127.0.0.1
// that counts its fetches and fails on demand: fetched lazily; an outage gives
// 503 (never 500) while cached keys keep working; a flood of unknown kids
// costs at most one or two fetches; no redirects; a size cap; rotation drops
// keys that left the set; discovery through the issuer when MESH_JWKS_URL is unset.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { assertForwarded, assertRejected, startGatewayStack } from '../support/gateway.mjs';
import { sleep } from '../support/http.mjs';
import { makeKeyPair, mint, startTrap } from '../support/tokens.mjs';

const CHAT = '/api/v1/chat';
const COOLDOWN_MS = 31_000; // the "about 30 s" refetch cooldown, plus a second

/** Retries `fn` until it returns true, at most `ms` long. */
async function eventually(fn, ms, step = 500) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > end) return false;
    await sleep(step);
  }
}

// The two groups wait out refetch cooldowns; they run side by side.
describe('JWKS', { concurrency: 2 }, () => {
describe('JWKS fetching, outage and rotation', { concurrency: 1 }, () => {
  let gw, trap;
  before(async () => {
    gw = await startGatewayStack();
    trap = await startTrap();
  });
  after(async () => { await gw?.stop(); await trap?.stop(); });

  test('the key set is fetched lazily: nothing before the first JWT request', async () => {
    assert.equal((await gw.call('/health')).status, 200);
    assert.equal(gw.jwks.count, 0, 'fetched before any JWT arrived');
  });

  test('while the key server hangs or fails, requests get 503 (not 500) and never reach the origin', async () => {
    gw.jwks.setMode('hang');
    const t = await gw.token();
    const hung = await gw.call(CHAT, { token: t });
    assert.equal(hung.status, 503, `hang: ${hung.status} ${hung.text}`);
    assert.equal(hung.seen.length, 0);
    gw.jwks.setMode('error');
    // Within a failure cooldown the gateway may answer from its memory of the
    // failure; either way it must be 503.
    const failed = await gw.call(CHAT, { token: await gw.token() });
    assert.equal(failed.status, 503, `500 from JWKS: ${failed.status} ${failed.text}`);
    assert.equal(failed.seen.length, 0);
    assert.ok(!/outage|ECONN|stack/i.test(failed.text), `internals in the body: ${failed.text}`);
  });

  test('once the key server is back, tokens verify (within the cooldown, bounded)', async () => {
    gw.jwks.setMode('ok');
    let last;
    const ok = await eventually(async () => {
      last = await gw.call(CHAT, { token: await gw.token({ sub: 'back' }) });
      return last.status === 200;
    }, 40_000, 1000);
    assert.ok(ok, `still ${last.status} ${last.text}`);
    assertForwarded(last, { userId: 'back', authMethod: 'jwt' });
  });

  test('a flood of unknown kids within the cooldown causes at most two JWKS fetches', async () => {
    const before = gw.jwks.count;
    const attacker = await makeKeyPair('RS256', 'x');
    const results = [];
    // 60 requests, 6 at a time, each with a fresh random kid.
    for (let i = 0; i < 10; i++) {
      results.push(...await Promise.all(Array.from({ length: 6 }, async () => {
        const kid = randomBytes(8).toString('hex');
        return gw.call(CHAT, { token: await mint({ key: attacker, kid, payload: gw.claims() }) });
      })));
    }
    for (const r of results) {
      assert.ok(r.status === 401 || r.status === 503, `unknown kid: ${r.status} ${r.text}`);
      assert.equal(r.seen.length, 0);
    }
    const fetches = gw.jwks.count - before;
    console.log(`# unknown-kid flood: 60 requests -> ${fetches} JWKS fetch(es)`);
    assert.ok(fetches <= 2, `${fetches} JWKS fetches for 60 unknown kids`);
  });

  test('a flood of tokens from an unknown issuer, each with a fresh kid, fetches nothing', async () => {
    const before = gw.jwks.count;
    const attacker = await makeKeyPair('RS256', 'x');
    for (let i = 0; i < 10; i++) {
      const rs = await Promise.all(Array.from({ length: 6 }, async () => {
        const kid = randomBytes(8).toString('hex');
        return gw.call(CHAT, { token: await mint({ key: attacker, kid, payload: gw.claims({ iss: 'https://evil.example' }) }) });
      }));
      for (const r of rs) assertRejected(r, 'invalid_token', 'unknown issuer');
    }
    assert.equal(gw.jwks.count - before, 0, 'an unknown issuer caused a JWKS fetch');
  });
  test('during an outage, keys already cached keep working (new tokens, RS256 and ES256)', async () => {
    gw.jwks.setMode('error');
    const before = gw.jwks.count;
    assertForwarded(await gw.call(CHAT, { token: await gw.token({ sub: 'cached-rs' }) }), { userId: 'cached-rs', authMethod: 'jwt' });
    assertForwarded(await gw.call(CHAT, { token: await gw.token({ key: gw.keys.es, sub: 'cached-es' }) }), { userId: 'cached-es', authMethod: 'jwt' });
    assert.equal(gw.jwks.count, before, 'a cached key needed no fetch');
    gw.jwks.setMode('ok');
  });

  test('rotation: after the cooldown a flood of unknown kids refetches once, the new kid works, tokens of a kid that left the set stop working', async () => {
    const oldToken = await gw.token({ sub: 'old-key' });
    assertForwarded(await gw.call(CHAT, { token: oldToken }), { userId: 'old-key', authMethod: 'jwt' });
    const next = await makeKeyPair('RS256');
    gw.jwks.setKeys([next, gw.keys.es]);
    const wait = gw.jwks.lastFetchAt + COOLDOWN_MS - Date.now();
    if (wait > 0) await sleep(wait);
    // The cooldown is over: a flood of unknown kids now may refetch, but once (twice at most).
    const before = gw.jwks.count;
    const attacker = await makeKeyPair('ES256', 'x');
    for (let i = 0; i < 10; i++) {
      const rs = await Promise.all(Array.from({ length: 6 }, async () => gw.call(CHAT, { token: await mint({ key: attacker, kid: randomBytes(8).toString('hex'), payload: gw.claims() }) })));
      for (const r of rs) { assert.equal(r.status, 401, r.text); assert.equal(r.seen.length, 0); }
    }
    const fetches = gw.jwks.count - before;
    console.log(`# unknown-kid flood after the cooldown: 60 requests -> ${fetches} JWKS fetch(es)`);
    assert.ok(fetches >= 1 && fetches <= 2, `${fetches} JWKS fetches for 60 unknown kids after the cooldown (want 1, at most 2)`);
    // That refetch brought the new key in.
    const newToken = await mint({ key: next, payload: gw.claims({ sub: 'new-key' }) });
    const r = await gw.call(CHAT, { token: newToken });
    assertForwarded(r, { userId: 'new-key', authMethod: 'jwt' }, 'new kid after the cooldown');
    // The refetch dropped the old kid: its token, verified and cached before, no longer passes.
    assertRejected(await gw.call(CHAT, { token: oldToken }), 'invalid_token', 'old kid after rotation');
    assertRejected(await gw.call(CHAT, { token: await gw.token({ sub: 'old-key-2' }) }), 'invalid_token', 'a fresh token of the old kid');
  });

  test('the JWKS fetch follows no redirect', async () => {
    // A fresh kid forces a refetch once the cooldown has passed.
    const k = await makeKeyPair('ES256');
    trap.setBody({ keys: [k.jwk] });
    gw.jwks.setMode('redirect', { location: `${trap.base}/jwks` });
    const wait = gw.jwks.lastFetchAt + COOLDOWN_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const r = await gw.call(CHAT, { token: await mint({ key: k, payload: gw.claims({ sub: 'redirected' }) }) });
    assert.ok(r.status === 401 || r.status === 503, `redirected JWKS: ${r.status} ${r.text}`);
    assert.equal(r.seen.length, 0);
    assert.equal(trap.hits.length, 0, 'the gateway followed the redirect');
    gw.jwks.setMode('ok');
  });
});

describe('JWKS from discovery, size cap', { concurrency: 1 }, () => {
  let gw;
  before(async () => { gw = await startGatewayStack({ jwksUrl: false }); });
  after(async () => { await gw?.stop(); });

  test('without MESH_JWKS_URL the key set comes from the issuer\'s discovery document', async () => {
    assertForwarded(await gw.call(CHAT, { token: await gw.token({ sub: 'disco' }) }), { userId: 'disco', authMethod: 'jwt' });
    assert.ok(gw.jwks.count >= 1, 'the JWKS named by discovery was fetched');
  });
  test('an oversized key set is refused (503), and nothing reaches the origin', async () => {
    gw.jwks.setMode('huge');
    const k = await makeKeyPair('RS256');
    gw.jwks.setKeys([gw.keys.rs, gw.keys.es, k]);
    const wait = gw.jwks.lastFetchAt + COOLDOWN_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const before = gw.jwks.count;
    const r = await gw.call(CHAT, { token: await mint({ key: k, payload: gw.claims() }) });
    assert.ok(gw.jwks.count > before, 'the gateway did refetch for the new kid');
    assert.ok(r.status === 503 || r.status === 401, `huge JWKS: ${r.status} ${r.text}`);
    assert.equal(r.seen.length, 0);
    // The keys it had still work.
    assertForwarded(await gw.call(CHAT, { token: await gw.token({ sub: 'still' }) }), { userId: 'still', authMethod: 'jwt' });
  });

  test('a key set that is not JSON is refused, the old keys stay, and the log says why', async () => {
    gw.jwks.setMode('garbage');
    const k = await makeKeyPair('RS256');
    const wait = gw.jwks.lastFetchAt + COOLDOWN_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const logsBefore = gw.gateway.jsonLogs().length;
    const fetched = gw.jwks.count;
    const r = await gw.call(CHAT, { token: await mint({ key: k, payload: gw.claims() }) });
    assert.ok(gw.jwks.count > fetched, 'the gateway did refetch for the new kid');
    assert.ok(r.status === 503 || r.status === 401, `garbage JWKS: ${r.status} ${r.text}`);
    assert.equal(r.seen.length, 0);
    let failed;
    for (let i = 0; i < 60 && !failed; i++) {
      failed = gw.gateway.jsonLogs().slice(logsBefore).find((l) => l.event === 'jwks_fetch_failed');
      if (!failed) await sleep(50);
    }
    assert.equal(failed?.step, 'jwks', JSON.stringify(failed));
    assert.equal(failed.detail, 'the body is not JSON with a `keys` array');
    assertForwarded(await gw.call(CHAT, { token: await gw.token({ sub: 'kept' }) }), { userId: 'kept', authMethod: 'jwt' });
  });
});
});
