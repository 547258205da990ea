// API keys at the edge (issue 6, "API keys at the edge"): create / list /
// revoke with the user's JWT, served by the gateway itself; the key on the
// agent route as Bearer or X-API-Key; revocation at once; nothing secret in
// the log. Issue 17: scopes (never more than the creator's; checked on an
// api_key route's `scopes`), expiry, a per-key rate limit, last use written
// back, rotation with a grace period. Then the client SDK (MeshClient from
// pkg/node.js) end to end.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { assertForwarded, assertNotLogged, assertRejected, startGatewayStack } from '../support/gateway.mjs';
import { request } from '../support/http.mjs';

const AGENT = '/agent/v1/mcp/messages/';
// An api_key route that needs a scope, beside the default routes.
const SCOPED = '/agent/v2/memories';
const ROUTES = JSON.stringify([
  { prefix: '/api/v1/', auth: 'jwt' },
  { prefix: '/mcp/messages/', auth: 'jwt' },
  { prefix: '/agent/v1/', auth: 'api_key' },
  { prefix: '/agent/v2/', auth: 'api_key', scopes: ['memories:write'] },
  { prefix: '/health', auth: 'public' },
]);
const KEY_RE = /^mesh_sk_[A-Za-z0-9_-]{43,}$/;
const nowSecs = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// keys-api-do.test.mjs runs this suite again with the Durable Object stores.
const STORE_VARS = JSON.parse(process.env.MESH_TEST_KEYS_STORE_VARS || '{}');
let gw, alice, bob, aliceScoped;
const secrets = [];
before(async () => {
  gw = await startGatewayStack({ vars: { MESH_ROUTES: ROUTES, ...STORE_VARS } });
  alice = await gw.token({ sub: 'alice', exp: nowSecs() + 3600 });
  bob = await gw.token({ sub: 'bob', exp: nowSecs() + 3600 });
  aliceScoped = await gw.token({ sub: 'alice', exp: nowSecs() + 3600, scope: 'memories:write memories:read' });
  secrets.push(alice, bob, aliceScoped);
});
after(async () => { await gw?.stop(); });

const listOf = (json) => (Array.isArray(json) ? json : json?.keys);
async function create(token, name, more = {}) {
  const r = await gw.call('/api/v1/keys', { token, method: 'POST', body: { name, ...more } });
  if (r.json?.key) secrets.push(r.json.key);
  return r;
}
async function rotate(token, id, body = {}) {
  const r = await gw.call(`/api/v1/keys/${encodeURIComponent(id)}/rotate`, { token, method: 'POST', body });
  if (r.json?.key) secrets.push(r.json.key);
  return r;
}
const listed = async (token, id) => listOf((await gw.call('/api/v1/keys', { token })).json).find((k) => k.id === id);
/** Calls `path` with `key` until `done(response)` or `ms` pass; the last response. */
async function until(done, key, ms, path = AGENT) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await gw.call(path, { token: key, waitLogs: true });
    if (done(r) || Date.now() > end) return r;
    await sleep(200);
  }
}

describe('managing keys with the user\'s JWT', () => {
  let created;
  test('POST /api/v1/keys creates a key and shows the plaintext once', async () => {
    const r = await create(alice, 'ci-agent');
    assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
    assert.equal(r.seen.length, 0, 'served by the gateway, not the origin');
    created = r.json;
    assert.match(created.key, KEY_RE);
    assert.ok(Buffer.from(created.key.slice('mesh_sk_'.length), 'base64url').length >= 32, 'at least 32 random bytes');
    assert.equal(created.name, 'ci-agent');
    assert.equal(typeof created.id, 'string');
    assert.ok(created.id.length > 0);
    assert.ok(!created.id.includes(created.key.slice(8, 20)), 'the id must not reveal the key');
    assert.equal(created.prefix, 'mesh_sk_');
    assert.equal(created.last4, created.key.slice(-4));
    assert.ok(!Number.isNaN(Date.parse(created.createdAt)), `createdAt ${created.createdAt}`);
  });
  test('two keys are different', async () => {
    const r = await create(alice, 'second');
    assert.notEqual(r.json.key, created.key);
    assert.notEqual(r.json.id, created.id);
  });
  test('GET /api/v1/keys lists the caller\'s keys: id, name, prefix, last 4; never the key', async () => {
    const r = await gw.call('/api/v1/keys', { token: alice });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.seen.length, 0);
    const list = listOf(r.json);
    assert.ok(Array.isArray(list), r.text);
    const mine = list.find((k) => k.id === created.id);
    assert.ok(mine, 'the new key is listed');
    assert.equal(mine.name, 'ci-agent');
    assert.equal(mine.prefix, 'mesh_sk_');
    assert.equal(mine.last4, created.key.slice(-4));
    assert.ok(!('key' in mine), 'no plaintext field');
    assert.ok(!r.text.includes(created.key.slice(8)), 'the key\'s secret part appears in the list');
    assert.ok(!r.text.includes(created.key.slice(8, 30)), 'a large part of the key appears in the list');
  });
  test('another user sees none of them and cannot revoke them (404)', async () => {
    const r = await gw.call('/api/v1/keys', { token: bob });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(listOf(r.json), []);
    const del = await gw.call(`/api/v1/keys/${encodeURIComponent(created.id)}`, { token: bob, method: 'DELETE' });
    assert.equal(del.status, 404, del.text);
    assert.equal(del.seen.length, 0);
    const still = await gw.call(AGENT, { token: created.key, method: 'POST', body: {} });
    assertForwarded(still, { userId: 'alice', authMethod: 'api_key', apiKeyId: created.id }, 'still works after bob\'s attempt');
  });
  test('revoking an id that does not exist: 404', async () => {
    const del = await gw.call('/api/v1/keys/does-not-exist', { token: alice, method: 'DELETE' });
    assert.equal(del.status, 404, del.text);
  });
  test('names are validated: 400 with a clear message', async () => {
    const bad = [
      ['missing', {}],
      ['empty', { name: '' }],
      ['101 characters', { name: 'x'.repeat(101) }],
      ['a number', { name: 42 }],
      ['null', { name: null }],
      ['an array', { name: ['a'] }],
    ];
    for (const [what, body] of bad) {
      const r = await gw.call('/api/v1/keys', { token: alice, method: 'POST', body });
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
      assert.equal(typeof r.json?.error, 'string', `${what}: ${r.text}`);
      assert.ok(`${r.json.error} ${r.json.message ?? r.json.error_description ?? ''}`.length > 8, `${what}: the message says why: ${r.text}`);
    }
    for (const raw of ['not json', '{"name":', '']) {
      const r = await gw.call('/api/v1/keys', { token: alice, method: 'POST', body: raw, headers: [['content-type', 'application/json']] });
      assert.equal(r.status, 400, `body ${JSON.stringify(raw)}: ${r.status} ${r.text}`);
    }
    const ok = await create(alice, 'x'.repeat(100));
    assert.ok(ok.status === 200 || ok.status === 201, `100 characters is allowed: ${ok.text}`);
  });
  test('an over-size body gets 400, and the next request is answered at once', async () => {
    // Sent without Content-Length (chunked): the gateway reads, and drains, the stream.
    const chunked = (size) => new Promise((resolve, reject) => {
      const req = http.request(`${gw.url}/api/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' } },
        (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      req.on('error', reject);
      for (let sent = 0; sent < size; sent += 16 * 1024) req.write('x'.repeat(16 * 1024));
      req.end();
    });
    for (const [what, send] of [['70 KB', () => gw.call('/api/v1/keys', { token: alice, method: 'POST', body: { name: 'x'.repeat(70 * 1024) } })],
      ['2 MB', () => gw.call('/api/v1/keys', { token: alice, method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) })],
      ['70 KB chunked', async () => ({ status: await chunked(70 * 1024) })]]) {
      assert.equal((await send()).status, 400, what);
      const started = Date.now();
      const next = await request(gw.url, '/api/v1/keys', { headers: [['authorization', `Bearer ${alice}`]], timeoutMs: 5000 });
      assert.equal(next.status, 200, `${what}, the next request: ${next.status} ${next.text}`);
      assert.ok(Date.now() - started < 5000, what);
    }
  });
  test('the SDK\'s offline name check and the gateway agree, counting characters, not UTF-16 units', async () => {
    const sdk = await import('../../pkg/node.js');
    const client = new sdk.MeshClient({ issuer: 'http://127.0.0.1:1', clientId: 'mesh-test', apiUrl: gw.url, storage: 'memory' });
    try {
      const names = [
        ['😀'.repeat(100), null], // 200 UTF-16 units, 100 characters
        ['😀'.repeat(101), 'too_long'],
        [`  ${'é'.repeat(100)}  `, null],
        ['a\u0085b', 'control_character'],
        ['a\nb', 'control_character'],
        [' \t ', 'empty'],
      ];
      for (const [name, problem] of names) {
        const check = client.keys.checkName(name);
        assert.equal(check?.problem ?? null, problem, `checkName(${JSON.stringify(name)})`);
        const r = await create(alice, name);
        assert.equal(r.status === 200 || r.status === 201, problem === null, `the gateway on ${JSON.stringify(name)}: ${r.status} ${r.text}`);
        if (check) {
          assert.equal(check.max, 100);
          assert.equal(check.message, r.json?.message ?? r.json?.error_description, 'the same words as the gateway');
        }
      }
      assert.equal(client.keys.checkName('😀'.repeat(101))?.length, 101);
      await assert.rejects(client.keys.create('😀'.repeat(101)), (e) => e.code === 'invalid_config' && /1-100 characters/.test(e.message));
    } finally {
      client.dispose();
    }
  });
  test('the endpoints need a JWT: none, a bad one, or an API key: 401', async () => {
    assertRejected(await gw.call('/api/v1/keys'), 'invalid_request');
    assertRejected(await gw.call('/api/v1/keys', { method: 'POST', body: { name: 'x' } }), 'invalid_request');
    assertRejected(await gw.call(`/api/v1/keys/${created.id}`, { method: 'DELETE' }), 'invalid_request');
    assertRejected(await gw.call('/api/v1/keys', { token: created.key }), 'invalid_token');
    const expired = await gw.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600 });
    assertRejected(await gw.call('/api/v1/keys', { token: expired, method: 'POST', body: { name: 'x' } }), 'invalid_token');
  });

  describe('using the key on the agent route', () => {
    test('Authorization: Bearer mesh_sk_... (any scheme case): owner identity, the raw key not forwarded', async () => {
      for (const scheme of ['Bearer', 'bearer']) {
        const r = await gw.call(AGENT, { token: created.key, scheme, method: 'POST', body: { jsonrpc: '2.0', method: 'ping', id: 1 } });
        const seen = assertForwarded(r, { userId: 'alice', authMethod: 'api_key', apiKeyId: created.id }, scheme);
        assert.ok(!JSON.stringify(seen.rawHeaders).includes(created.key), 'the raw key reached the origin');
        assert.ok(!JSON.stringify(seen.rawHeaders).includes(created.key.slice(8)), 'the key\'s secret part reached the origin');
      }
    });
    test('X-API-Key in several letter cases', async () => {
      for (const name of ['X-API-Key', 'x-api-key', 'X-Api-Key']) {
        const r = await gw.call(AGENT, { headers: [[name, created.key]], method: 'POST', body: {} });
        const seen = assertForwarded(r, { userId: 'alice', authMethod: 'api_key', apiKeyId: created.id }, name);
        assert.ok(!JSON.stringify(seen.rawHeaders).includes(created.key.slice(8)), 'the raw key reached the origin');
      }
    });
    test('unknown, malformed and wrong-prefix keys: 401 (repeated: negative cache, still 401)', async () => {
      const fake = `mesh_sk_${randomBytes(32).toString('base64url')}`;
      for (let i = 0; i < 20; i++) assertRejected(await gw.call(AGENT, { headers: [['X-API-Key', fake]] }), 'invalid_token', `fake #${i}`);
      for (const k of ['mesh_sk_', 'mesh_sk_short', `other_sk_${created.key.slice(8)}`, created.key.slice(0, -1), `${created.key}x`, created.key.toUpperCase(), ` ${created.key}x`, 'x'.repeat(20_000)]) {
        const r = await gw.call(AGENT, { headers: [['X-API-Key', k]] });
        assertRejected(r, 'invalid_token', k.slice(0, 20));
      }
    });
    test('a revoked key stops working at once', async () => {
      const extra = (await create(alice, 'to-revoke')).json;
      assertForwarded(await gw.call(AGENT, { token: extra.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: extra.id });
      const del = await gw.call(`/api/v1/keys/${encodeURIComponent(extra.id)}`, { token: alice, method: 'DELETE' });
      assert.ok(del.status === 200 || del.status === 204, `${del.status} ${del.text}`);
      assertRejected(await gw.call(AGENT, { token: extra.key }), 'invalid_token', 'revoked (Bearer)');
      assertRejected(await gw.call(AGENT, { headers: [['X-API-Key', extra.key]] }), 'invalid_token', 'revoked (X-API-Key)');
      const list = listOf((await gw.call('/api/v1/keys', { token: alice })).json);
      const entry = list.find((k) => k.id === extra.id);
      assert.ok(!entry || entry.revoked || entry.revokedAt, 'a revoked key is gone from the list (or marked revoked)');
      const again = await gw.call(`/api/v1/keys/${encodeURIComponent(extra.id)}`, { token: alice, method: 'DELETE' });
      assert.equal(again.status, 404, `revoking twice: ${again.text}`);
    });
  });
});

describe('scopes, expiry, rate limit, last use and rotation (issue 17)', () => {
  test('a key is created with scopes, an expiry and a rate limit, and lists them', async () => {
    const expiresAt = new Date((nowSecs() + 3600) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const r = await create(aliceScoped, 'scoped', { scopes: ['memories:write'], expiresAt, rateLimit: 50 });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual([r.json.scopes, r.json.expiresAt, r.json.rateLimit, r.json.lastUsedAt], [['memories:write'], expiresAt, 50, null]);
    const entry = await listed(aliceScoped, r.json.id);
    assert.deepEqual([entry.scopes, entry.expiresAt, entry.rateLimit, entry.lastUsedAt], [['memories:write'], expiresAt, 50, null]);
    // Unix seconds are accepted too; a past time, a bad limit or a scope with a space are not.
    const secs = await create(aliceScoped, 'secs', { expiresAt: nowSecs() + 600 });
    assert.equal(secs.status, 201, secs.text);
    for (const bad of [{ expiresAt: '2001-01-01T00:00:00Z' }, { expiresAt: nowSecs() - 1 }, { rateLimit: 0 }, { rateLimit: 100001 }, { scopes: ['a b'] }, { scopes: 'memories:write' }]) {
      const no = await create(aliceScoped, 'bad', bad);
      assert.equal(no.status, 400, `${JSON.stringify(bad)}: ${no.text}`);
      assert.equal(no.json.error, 'invalid_request');
    }
  });

  test('the largest key the API accepts fits KV\'s metadata (16 scopes of 256 bytes, a 100-character name)', async () => {
    const scopes = Array.from({ length: 16 }, (_, i) => `scope:${String(i).padStart(10, '0')}`);
    const wide = await gw.token({ sub: 'alice', exp: nowSecs() + 3600, scope: scopes.join(' ') });
    secrets.push(wide);
    const r = await create(wide, 'é'.repeat(100), { scopes, expiresAt: nowSecs() + 3600, rateLimit: 100000 });
    assert.equal(r.status, 201, r.text);
    const entry = await listed(wide, r.json.id);
    assert.deepEqual(entry.scopes, scopes);
    const tooMany = await create(wide, 'x', { scopes: [...scopes, 'one:more'] });
    assert.equal(tooMany.status, 400, tooMany.text);
  });

  test('asking for scopes the creator does not hold: 403 naming them', async () => {
    const r = await create(aliceScoped, 'too-much', { scopes: ['memories:write', 'admin', 'billing'] });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error, 'insufficient_scope');
    assert.deepEqual(r.json.missing_scopes, ['admin', 'billing']);
    assert.equal(r.seen.length, 0);
    // A token with no scopes at all grants none.
    const none = await create(alice, 'none', { scopes: ['memories:write'] });
    assert.equal(none.status, 403, none.text);
    assert.deepEqual(none.json.missing_scopes, ['memories:write']);
    assert.ok(!(listOf((await gw.call('/api/v1/keys', { token: alice })).json)).some((k) => ['too-much', 'none'].includes(k.name)), 'nothing was created');
  });

  test('an api_key route with scopes: a key with the scope passes, one without gets 403', async () => {
    const withScope = (await create(aliceScoped, 'writer', { scopes: ['memories:write'] })).json;
    const reader = (await create(aliceScoped, 'reader', { scopes: ['memories:read'] })).json;
    const bare = (await create(alice, 'bare')).json;
    assertForwarded(await gw.call(SCOPED, { token: withScope.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: withScope.id });
    for (const key of [reader, bare]) {
      const r = await gw.call(SCOPED, { headers: [['X-API-Key', key.key]], waitLogs: true });
      assert.equal(r.status, 403, `${key.name}: ${r.text}`);
      assert.equal(r.json.error, 'insufficient_scope');
      assert.deepEqual(r.json.missing_scopes, ['memories:write']);
      assert.match(r.headers['www-authenticate'], /error="insufficient_scope", scope="memories:write"/);
      assert.equal(r.seen.length, 0, 'the origin saw nothing');
      assert.ok(r.logLines.some((l) => l.event === 'auth_forbidden' && l.rule === 'scope'), JSON.stringify(r.logLines));
    }
    // A route without scopes takes any of the owner's keys.
    assertForwarded(await gw.call(AGENT, { token: reader.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: reader.id });
  });

  test('an expired key is refused: 401, logged as expired', async () => {
    const key = (await create(alice, 'short-lived', { expiresAt: nowSecs() + 2 })).json;
    assert.ok(key?.key, 'created');
    const first = await gw.call(AGENT, { token: key.key });
    assertForwarded(first, { userId: 'alice', authMethod: 'api_key', apiKeyId: key.id }, 'before its expiry');
    const r = await until((x) => x.status === 401, key.key, 6000);
    assertRejected(r, 'invalid_token', 'past its expiry');
    assert.ok(Date.now() / 1000 >= Date.parse(key.expiresAt) / 1000, 'refused only from its expiry on');
    assert.ok(r.logLines.some((l) => l.event === 'auth_rejected' && l.reason === 'expired'), JSON.stringify(r.logLines));
  });

  test('a key over its rate limit gets 429 with Retry-After until the minute ends', async () => {
    const key = (await create(alice, 'limited', { rateLimit: 3 })).json;
    // Start well inside a minute's window, so the count is not reset mid-loop.
    if (Date.now() % 60_000 > 50_000) await sleep(60_000 - (Date.now() % 60_000) + 100);
    const statuses = [];
    let limited;
    for (let i = 0; i < 10 && !limited; i++) {
      const r = await gw.call(AGENT, { headers: [['X-API-Key', key.key]], waitLogs: i >= 3 });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
      else assertForwarded(r, { userId: 'alice', authMethod: 'api_key', apiKeyId: key.id }, `request ${i + 1}`);
    }
    assert.deepEqual(statuses.map((x) => (x === 429 ? 429 : 'passed')), ['passed', 'passed', 'passed', 429], `three pass, the fourth is limited: ${statuses}`);
    const retry = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.equal(limited.json.error, 'rate_limited');
    assert.equal(limited.json.retry_after, retry);
    assert.equal(limited.seen.length, 0, 'the origin saw nothing');
    assert.ok(limited.logLines.some((l) => l.event === 'rate_limited'), JSON.stringify(limited.logLines));
    // Another key of the same user has its own count.
    const other = (await create(alice, 'unlimited')).json;
    assertForwarded(await gw.call(AGENT, { token: other.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: other.id });
  });

  test('lastUsedAt shows in the list after a use', async () => {
    const key = (await create(alice, 'used')).json;
    assert.equal((await listed(alice, key.id)).lastUsedAt, null, 'never used');
    const before = nowSecs();
    assertForwarded(await gw.call(AGENT, { token: key.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: key.id });
    let entry;
    for (let i = 0; i < 50; i++) {
      entry = await listed(alice, key.id);
      if (entry?.lastUsedAt) break;
      await sleep(100);
    }
    assert.ok(entry?.lastUsedAt, `lastUsedAt after a use: ${JSON.stringify(entry)}`);
    const at = Date.parse(entry.lastUsedAt) / 1000;
    assert.ok(at >= before - 1 && at <= nowSecs() + 1, `lastUsedAt ${entry.lastUsedAt}`);
    // The key still works, and the write-back changed nothing else.
    assertForwarded(await gw.call(AGENT, { token: key.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: key.id });
    assert.deepEqual([entry.name, entry.scopes, entry.expiresAt, entry.rateLimit], ['used', [], null, null]);
  });

  test('rotate: a replacement like the old key; the old one stops at once with grace 0', async () => {
    const expiresAt = new Date((nowSecs() + 7200) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const old = (await create(aliceScoped, 'rotating', { scopes: ['memories:write'], expiresAt, rateLimit: 100 })).json;
    const r = await rotate(aliceScoped, old.id, { gracePeriodSeconds: 0 });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.seen.length, 0);
    const fresh = r.json;
    assert.match(fresh.key, KEY_RE);
    assert.notEqual(fresh.id, old.id);
    assert.deepEqual([fresh.name, fresh.scopes, fresh.expiresAt, fresh.rateLimit], ['rotating', ['memories:write'], expiresAt, 100]);
    assertForwarded(await gw.call(SCOPED, { token: fresh.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: fresh.id });
    assertRejected(await gw.call(SCOPED, { token: old.key }), 'invalid_token', 'the old key, grace 0');
    const listedOld = await listed(aliceScoped, old.id);
    assert.ok(Date.parse(listedOld.expiresAt) <= Date.now(), `the old key's expiry is now: ${listedOld.expiresAt}`);
  });

  test('rotate with a grace period: the old key works until the grace ends, then not', async () => {
    const old = (await create(alice, 'graceful')).json;
    const r = await rotate(alice, old.id, { gracePeriodSeconds: 2 });
    assert.equal(r.status, 201, r.text);
    assertForwarded(await gw.call(AGENT, { token: old.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: old.id }, 'within the grace');
    assertForwarded(await gw.call(AGENT, { token: r.json.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: r.json.id });
    const after = await until((x) => x.status === 401, old.key, 6000);
    assertRejected(after, 'invalid_token', 'past the grace');
    assert.ok(after.logLines.some((l) => l.reason === 'expired'), JSON.stringify(after.logLines));
    assertForwarded(await gw.call(AGENT, { token: r.json.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: r.json.id }, 'the replacement stays');
  });

  test('rotate by another user, or of a key that does not exist: 404; a bad grace: 400', async () => {
    const mine = (await create(alice, 'not-bobs')).json;
    const r = await rotate(bob, mine.id, { gracePeriodSeconds: 0 });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.seen.length, 0);
    assertForwarded(await gw.call(AGENT, { token: mine.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: mine.id }, 'still works');
    assert.equal((await listed(alice, mine.id)).expiresAt, null, 'unchanged');
    assert.equal((await rotate(alice, 'key_AAAAAAAAAAAAAAAA')).status, 404);
    for (const grace of [86401, -1, '60']) {
      const bad = await rotate(alice, mine.id, { gracePeriodSeconds: grace });
      assert.equal(bad.status, 400, `${grace}: ${bad.text}`);
    }
    const get = await gw.call(`/api/v1/keys/${mine.id}/rotate`, { token: alice });
    assert.equal(get.status, 405, get.text);
    assert.equal(get.headers.allow, 'POST');
  });
});

describe('MESH_KEYS_PATH moves the keys API', () => {
  let moved;
  before(async () => { moved = await startGatewayStack({ vars: { MESH_KEYS_PATH: '/me/keys/' } }); });
  after(async () => { await moved?.stop(); });
  test('keys are managed under the configured path; the default path is an ordinary route again', async () => {
    const token = await moved.token({ sub: 'carol', exp: nowSecs() + 3600 });
    secrets.push(token);
    const made = await moved.call('/me/keys', { token, method: 'POST', body: { name: 'moved' } });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.seen.length, 0, 'served by the gateway');
    secrets.push(made.json.key);
    const list = await moved.call('/me/keys/', { token });
    assert.ok(listOf(list.json).some((k) => k.id === made.json.id), list.text);
    const rotated = await moved.call(`/me/keys/${made.json.id}/rotate`, { token, method: 'POST', body: { gracePeriodSeconds: 60 } });
    assert.equal(rotated.status, 201, rotated.text);
    secrets.push(rotated.json.key);
    assertForwarded(await moved.call(AGENT, { token: rotated.json.key }), { userId: 'carol', authMethod: 'api_key', apiKeyId: rotated.json.id });
    // /api/v1/keys is under the jwt route /api/v1/ now: the origin answers it.
    const old = await moved.call('/api/v1/keys', { token });
    assertForwarded(old, { userId: 'carol', authMethod: 'jwt' }, 'the default path goes to the origin');
    assertRejected(await moved.call('/me/keys/x'), 'invalid_request');
    assert.equal((await moved.call('/me/keysx', { token })).status, 404, 'segments, not bytes');
  });
  test('the client SDK follows it with keysPath', async () => {
    const sdk = await import('../../pkg/node.js');
    const token = await moved.token({ sub: 'dave', exp: nowSecs() + 3600 });
    secrets.push(token);
    const client = new sdk.MeshClient({ issuer: moved.jwks.issuer, clientId: 'mesh-test', apiUrl: moved.url, storage: 'memory', keysPath: '/me/keys' });
    try {
      client.setSession({ accessToken: token, expiresAt: nowSecs() + 3600 });
      const made = await client.keys.create('sdk-moved');
      secrets.push(made.key);
      assert.ok((await client.keys.list()).some((k) => k.id === made.id));
      await client.keys.revoke(made.id);
      assert.ok(!(await client.keys.list()).some((k) => k.id === made.id));
    } finally {
      client.dispose();
    }
    assert.throws(() => new sdk.MeshClient({ apiUrl: moved.url, apiKey: 'mesh_sk_abcdefgh1234', keysPath: 'me/keys' }), (e) => e.code === 'invalid_config' && /keysPath/.test(e.message));
  });
  test('no secret in its log', () => {
    assertNotLogged(moved.gateway.logs(), secrets, 'moved keys path');
  });
});

describe('the client SDK through the gateway (pkg/node.js)', () => {
  let sdk;
  before(async () => { sdk = await import('../../pkg/node.js'); });
  const oauthClient = (token) => {
    const client = new sdk.MeshClient({ issuer: gw.jwks.issuer, clientId: 'mesh-test', apiUrl: gw.url, storage: 'memory' });
    client.setSession({ accessToken: token, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    return client;
  };
  test('client.keys.create / list / revoke with a JWT session', async () => {
    const client = oauthClient(alice);
    try {
      const created = await client.keys.create('sdk-agent');
      secrets.push(created.key);
      assert.match(created.key, KEY_RE);
      assert.equal(created.name, 'sdk-agent');
      const list = await client.keys.list();
      const entry = list.find((k) => k.id === created.id);
      assert.ok(entry, 'listed');
      assert.equal(entry.last4, created.key.slice(-4));
      assert.ok(!JSON.stringify(list).includes(created.key.slice(8)));

      // API-key mode: X-API-Key on the agent route; the origin sees the owner.
      const agent = new sdk.MeshClient({ apiUrl: gw.url, apiKey: created.key });
      try {
        gw.origin.clear();
        const res = await agent.fetch(AGENT, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), headers: { 'content-type': 'application/json' } });
        assert.ok(res.ok, `agent call: ${res.status}`);
        assert.equal(gw.origin.requests.length, 1);
        assert.equal(gw.origin.requests[0].identity.userId, 'alice');
        assert.equal(gw.origin.requests[0].identity.apiKeyId, created.id);

        await client.keys.revoke(created.id);
        assert.ok(!(await client.keys.list()).some((k) => k.id === created.id && !k.revoked));
        gw.origin.clear();
        const after = await agent.fetch(AGENT, { method: 'POST', body: '{}' }).catch((e) => e);
        if (after instanceof Error) assert.equal(after.code, 'unauthorized', String(after));
        else assert.equal(after.status, 401);
        assert.equal(gw.origin.requests.length, 0);
      } finally { agent.dispose?.(); }
    } finally { client.dispose?.(); }
  });
  test('client.keys.create with scopes, expiry and a limit; rotate; list shows them', async () => {
    const client = oauthClient(aliceScoped);
    const bobs = oauthClient(bob);
    try {
      const expiresAt = new Date((nowSecs() + 3600) * 1000);
      const created = await client.keys.create('sdk-scoped', { scopes: ['memories:write'], expiresAt, rateLimit: 30 });
      secrets.push(created.key);
      assert.deepEqual([created.scopes, created.rateLimit, Date.parse(created.expiresAt)], [['memories:write'], 30, Math.floor(expiresAt / 1000) * 1000]);
      const entry = (await client.keys.list()).find((k) => k.id === created.id);
      assert.deepEqual([entry.scopes, entry.expiresAt, entry.lastUsedAt, entry.rateLimit], [created.scopes, created.expiresAt, null, 30]);
      await assert.rejects(client.keys.create('too-much', { scopes: ['admin'] }), (e) => e.code === 'forbidden' && e.status === 403);
      await assert.rejects(bobs.keys.rotate(created.id), (e) => e.code === 'http_error' && e.status === 404);
      const rotated = await client.keys.rotate(created.id, { gracePeriodSeconds: 60 });
      secrets.push(rotated.key);
      assert.match(rotated.key, KEY_RE);
      assert.deepEqual([rotated.name, rotated.scopes, rotated.rateLimit], ['sdk-scoped', ['memories:write'], 30]);
      const old = (await client.keys.list()).find((k) => k.id === created.id);
      assert.ok(Date.parse(old.expiresAt) <= Date.now() + 61_000, `the old key ends with its grace: ${old.expiresAt}`);
      assertForwarded(await gw.call(SCOPED, { token: rotated.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: rotated.id });
    } finally { client.dispose?.(); bobs.dispose?.(); }
  });
  test('client.keys.* with another user\'s session sees none of alice\'s keys; revoke of her key fails', async () => {
    const mine = (await create(alice, 'not-yours')).json;
    const client = oauthClient(bob);
    try {
      const list = await client.keys.list();
      assert.ok(!list.some((k) => k.id === mine.id));
      await assert.rejects(client.keys.revoke(mine.id), (e) => typeof e.code === 'string');
      assertForwarded(await gw.call(AGENT, { token: mine.key }), { userId: 'alice', authMethod: 'api_key', apiKeyId: mine.id });
    } finally { client.dispose?.(); }
  });
});

test('no key, token or secret in the gateway\'s log', () => {
  assertNotLogged(gw.gateway.logs(), secrets, 'keys suite');
  // Not even the secret half of a key.
  for (const s of secrets.filter((x) => x?.startsWith('mesh_sk_'))) assert.ok(!gw.gateway.logs().includes(s.slice(8)), 'a key\'s secret part is logged');
});
