// PS256 and EdDSA (issue 17), verified by WebCrypto in real workerd: each
// passes where the allow-list names it, and the confusions an attacker would
// try are refused: an algorithm the allow-list leaves out, a PS256 token
// under an RS256-only key, an Ed25519 key named for another algorithm, a
// signature of the other RSA padding.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertForwarded, assertRejected, startGatewayStack } from '../support/gateway.mjs';
import { b64json, forge, makeKeyPair, mint } from '../support/tokens.mjs';

describe('PS256 and EdDSA where MESH_JWT_ALGORITHMS names them', () => {
  let gw, ps, ed, psOnlyRs;
  before(async () => {
    ps = await makeKeyPair('PS256');
    ed = await makeKeyPair('EdDSA');
    // An RSA key whose JWK says RS256: a PS256 signature by it must not pass.
    psOnlyRs = await makeKeyPair('RS256');
    gw = await startGatewayStack({ extraKeys: [ps, ed, psOnlyRs], vars: { MESH_JWT_ALGORITHMS: 'RS256,PS256,ES256,EdDSA' } });
  });
  after(async () => { await gw?.stop(); });

  test('a PS256 token and an EdDSA token pass, twice each (the second from the cache)', async () => {
    for (const key of [ps, ed]) {
      const token = await mint({ key, payload: gw.claims({ sub: `u-${key.alg}` }) });
      for (let i = 0; i < 2; i++) assertForwarded(await gw.call('/api/v1/chat', { token }), { userId: `u-${key.alg}`, authMethod: 'jwt' }, key.alg);
    }
  });

  test('the key type and the JWK alg decide: every cross-use is refused', async () => {
    const payload = gw.claims();
    const signed = (alg, key, kid) => forge({ header: { alg, kid }, payload, sign: { alg, key } });
    const edToken = await mint({ key: ed, payload });
    const withHeader = (token, header) => `${b64json(header)}.${token.split('.').slice(1).join('.')}`;
    const cases = {
      'PS256 signed by a key whose JWK says RS256': signed('PS256', psOnlyRs, psOnlyRs.kid),
      'RS256 signed by a key whose JWK says PS256': signed('RS256', ps, ps.kid),
      'a PKCS#1 v1.5 signature under a PS256 header': withHeader(signed('RS256', ps, ps.kid), { alg: 'PS256', kid: ps.kid }),
      'an Ed25519 signature under an ES256 header': withHeader(edToken, { alg: 'ES256', kid: ed.kid }),
      'an EdDSA header naming the RSA key': withHeader(edToken, { alg: 'EdDSA', kid: ps.kid }),
    };
    for (const [name, token] of Object.entries(cases)) {
      assertRejected(await gw.call('/api/v1/chat', { token }), 'invalid_token', name);
    }
    // The control: the same key with its own algorithm passes, signed the same way.
    assertForwarded(await gw.call('/api/v1/chat', { token: signed('PS256', ps, ps.kid) }), { userId: 'user-1', authMethod: 'jwt' });
  });
});

describe('the default allow-list (RS256, ES256)', () => {
  let gw, ps, ed;
  before(async () => {
    ps = await makeKeyPair('PS256');
    ed = await makeKeyPair('EdDSA');
    gw = await startGatewayStack({ extraKeys: [ps, ed] });
  });
  after(async () => { await gw?.stop(); });

  test('PS256 and EdDSA tokens are refused, though their keys are in the JWKS', async () => {
    for (const key of [ps, ed]) {
      assertRejected(await gw.call('/api/v1/chat', { token: await mint({ key, payload: gw.claims() }) }), 'invalid_token', key.alg);
    }
    // Both refusals are logged as alg_not_allowed (the log pipe may lag: bounded wait).
    const count = () => (gw.gateway.logs().match(/"reason":"alg_not_allowed"/g) ?? []).length;
    for (let i = 0; i < 30 && count() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(count(), 2, gw.gateway.logs().slice(-1000));
  });
});
