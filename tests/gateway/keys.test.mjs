// API keys at the edge (issue 6, "API keys at the edge"): create / list /
// revoke with the user's JWT, served by the gateway itself; the key on the
// agent route as Bearer or X-API-Key; revocation at once; nothing secret in
// the log. Then the client SDK (MeshClient from pkg/node.js) end to end.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { assertForwarded, assertNotLogged, assertRejected, startGatewayStack } from '../support/gateway.mjs';

const AGENT = '/agent/v1/mcp/messages/';
const KEY_RE = /^mesh_sk_[A-Za-z0-9_-]{43,}$/;
let gw, alice, bob;
const secrets = [];
before(async () => {
  gw = await startGatewayStack();
  alice = await gw.token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 });
  bob = await gw.token({ sub: 'bob', exp: Math.floor(Date.now() / 1000) + 3600 });
  secrets.push(alice, bob);
});
after(async () => { await gw?.stop(); });

const listOf = (json) => (Array.isArray(json) ? json : json?.keys);
async function create(token, name) {
  const r = await gw.call('/api/v1/keys', { token, method: 'POST', body: { name } });
  if (r.json?.key) secrets.push(r.json.key);
  return r;
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
