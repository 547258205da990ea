// Several issuers (issue 17): MESH_JWT_ISSUERS with the real oidc-provider
// as one issuer (discovery, RS256) and locally minted tokens as another (its
// own JWKS URL, ES256 only). The token's iss picks its issuer before any key
// is fetched; each route takes the issuers it names.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProvider, USERS } from '../../scripts/servers/provider.mjs';
import { assertForwarded, assertRejected, AUDIENCE, startGatewayStack } from '../support/gateway.mjs';
import { rawDeviceLogin } from '../support/stack.mjs';
import { mint } from '../support/tokens.mjs';

const BOUND = { timeout: 120_000 };

/**
 * The provider and a gateway with the local issuer first, the provider
 * second; `routes(jwks, op)` gives MESH_ROUTES (undefined: the defaults).
 */
async function startTwoIssuers(routes = () => undefined) {
  const op = await startProvider({ accessTokenTtl: 300 });
  const gw = await startGatewayStack({
    hs256: false,
    vars: (jwks) => ({
      MESH_JWT_ISSUER: undefined, MESH_JWT_AUDIENCE: undefined, MESH_JWKS_URL: undefined,
      MESH_JWT_ISSUERS: JSON.stringify([
        { issuer: jwks.issuer, audience: [AUDIENCE], jwks_url: jwks.url, algorithms: ['ES256'] },
        { issuer: op.issuer, audience: op.audience },
      ]),
      MESH_ROUTES: routes(jwks, op),
    }),
  });
  const opToken = (await rawDeviceLogin(op.issuer, { login: USERS[0].login, password: USERS[0].password })).access_token;
  return { op, gw, opToken };
}

describe('MESH_JWT_ISSUERS: a real provider and a local issuer side by side', () => {
  let op, gw, opToken;
  before(async () => {
    ({ op, gw, opToken } = await startTwoIssuers((jwks, provider) => JSON.stringify([
      { prefix: '/api/v1/', auth: 'jwt', issuers: [jwks.issuer] },
      { prefix: '/mcp/messages/', auth: 'jwt', issuers: [provider.issuer] },
      { prefix: '/both/', auth: 'jwt' },
      { prefix: '/health', auth: 'public' },
    ])));
  }, BOUND);
  after(async () => { await gw?.stop(); await op?.close(); }, BOUND);

  test('each issuer\'s token passes on its own route and on a route that takes both', BOUND, async () => {
    const local = await gw.token({ key: gw.keys.es, sub: 'local-user' });
    assertForwarded(await gw.call('/api/v1/chat', { token: local }), { userId: 'local-user', authMethod: 'jwt' }, 'local on A');
    assertForwarded(await gw.call('/both/x', { token: local }), { userId: 'local-user', authMethod: 'jwt' }, 'local on both');
    assertForwarded(await gw.call('/mcp/messages/', { token: opToken }), { userId: USERS[0].id, authMethod: 'jwt' }, 'provider on B');
    assertForwarded(await gw.call('/both/x', { token: opToken }), { userId: USERS[0].id, authMethod: 'jwt' }, 'provider on both');
  });

  test('a token of issuer B on a route that takes only A is refused, and the other way round', BOUND, async () => {
    const local = await gw.token({ key: gw.keys.es });
    assertRejected(await gw.call('/api/v1/chat', { token: opToken }), 'invalid_token', 'provider on A');
    assertRejected(await gw.call('/mcp/messages/', { token: local }), 'invalid_token', 'local on B');
  });

  test('each issuer keeps its own algorithms and keys: the local issuer takes no RS256, even signed by its key set', BOUND, async () => {
    assertRejected(await gw.call('/both/x', { token: await gw.token({ key: gw.keys.rs }) }), 'invalid_token', 'RS256 for an ES256-only issuer');
    // A token naming the provider but signed by the local key set: the provider's keys decide.
    const forged = await mint({ key: gw.keys.rs, payload: gw.claims({ iss: op.issuer, aud: op.audience }) });
    assertRejected(await gw.call('/both/x', { token: forged }), 'invalid_token', 'local key for the provider\'s iss');
  });

  test('an unknown issuer is refused with no fetch at all', BOUND, async () => {
    const before = gw.jwks.count;
    for (let i = 0; i < 20; i++) {
      const t = await mint({ key: gw.keys.es, kid: `k${i}`, payload: gw.claims({ iss: 'https://evil.example' }) });
      assertRejected(await gw.call('/both/x', { token: t }), 'invalid_token', 'unknown issuer');
    }
    assert.equal(gw.jwks.count - before, 0);
  });

  test('the protected resource metadata names both issuers', BOUND, async () => {
    const r = await gw.call('/.well-known/oauth-protected-resource');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.authorization_servers, [gw.jwks.issuer, op.issuer]);
  });
});

// A key belongs to a `sub`: with two issuers whose subs collide, only the first
// issuer's tokens may manage keys, or issuer B's user would manage A's user's keys.
describe('MESH_JWT_ISSUERS: the keys API takes the first issuer\'s tokens only', () => {
  let op, gw, opToken;
  before(async () => { ({ op, gw, opToken } = await startTwoIssuers()); }, BOUND);
  after(async () => { await gw?.stop(); await op?.close(); }, BOUND);

  test('issuer B\'s token with the same sub gets 401 on list, create, rotate and revoke; A\'s works', BOUND, async () => {
    // Issuer A's user with the very sub the provider (issuer B) gives its user.
    const a = await gw.token({ key: gw.keys.es, sub: USERS[0].id });
    const created = await gw.call('/api/v1/keys', { token: a, method: 'POST', body: { name: 'a-key' } });
    assert.equal(created.status, 201, created.text);
    const id = created.json.id;
    for (const [method, path, body] of [['GET', '/api/v1/keys'], ['POST', '/api/v1/keys', { name: 'b-key' }],
      ['POST', `/api/v1/keys/${id}/rotate`, {}], ['DELETE', `/api/v1/keys/${id}`]]) {
      assertRejected(await gw.call(path, { token: opToken, method, body }), 'invalid_token', `B: ${method} ${path}`);
    }
    const listed = await gw.call('/api/v1/keys', { token: a });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.keys.map((k) => k.id), [id], 'B created nothing and revoked nothing');
    const rotated = await gw.call(`/api/v1/keys/${id}/rotate`, { token: a, method: 'POST', body: {} });
    assert.equal(rotated.status, 201, rotated.text);
    assert.equal((await gw.call(`/api/v1/keys/${rotated.json.id}`, { token: a, method: 'DELETE' })).status, 204);
  });
});
