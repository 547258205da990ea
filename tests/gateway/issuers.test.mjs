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

describe('MESH_JWT_ISSUERS: a real provider and a local issuer side by side', () => {
  let op, gw, opToken;
  before(async () => {
    op = await startProvider({ accessTokenTtl: 300 });
    gw = await startGatewayStack({
      hs256: false,
      vars: (jwks) => ({
        MESH_JWT_ISSUER: undefined, MESH_JWT_AUDIENCE: undefined, MESH_JWKS_URL: undefined,
        MESH_JWT_ISSUERS: JSON.stringify([
          { issuer: jwks.issuer, audience: [AUDIENCE], jwks_url: jwks.url, algorithms: ['ES256'] },
          { issuer: op.issuer, audience: op.audience },
        ]),
        MESH_ROUTES: JSON.stringify([
          { prefix: '/api/v1/', auth: 'jwt', issuers: [jwks.issuer] },
          { prefix: '/mcp/messages/', auth: 'jwt', issuers: [op.issuer] },
          { prefix: '/both/', auth: 'jwt' },
          { prefix: '/health', auth: 'public' },
        ]),
      }),
    });
    opToken = (await rawDeviceLogin(op.issuer, { login: USERS[0].login, password: USERS[0].password })).access_token;
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
