// Routes that authorize (issue 17): per-route methods, scopes, claims and
// issuers, given as a JSON file bundled with the worker or as a TOML array in
// [vars], in real workerd. Each rule is tried with the request that passes
// and the ones that must not.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { assertForwarded, assertRejected, startGatewayStack } from '../support/gateway.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const ROUTES = [
  { prefix: '/api/v1/', auth: 'jwt', methods: ['GET', 'POST'], scopes: ['memories:write', 'memories:read'], claims: { 'org.id': 'acme', role: ['admin', 'owner'] } },
  { prefix: '/open/', auth: 'jwt' },
  { prefix: '/health', auth: 'public', methods: ['GET'] },
];

/** A wrangler project whose worker imports its routes from a JSON file. */
function bundledRoutesProject() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mesh-routes-'));
  writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(ROUTES));
  writeFileSync(path.join(dir, 'worker.js'), [
    "import routes from './routes.json';",
    `import { createGateway } from ${JSON.stringify(path.join(ROOT, 'pkg/workerd.js'))};`,
    'export default createGateway({ MESH_ROUTES: routes });',
  ].join('\n'));
  writeFileSync(path.join(dir, 'wrangler.toml'), [
    'name = "mesh-gateway-routes"', 'main = "worker.js"', 'compatibility_date = "2026-05-01"',
    '[[kv_namespaces]]', 'binding = "MESH_API_KEYS"', 'id = "mesh-api-keys-local"',
  ].join('\n'));
  return path.join(dir, 'wrangler.toml');
}

/** A JSON value as TOML (inline tables, quoted keys). */
function toml(v) {
  if (Array.isArray(v)) return `[${v.map(toml).join(', ')}]`;
  if (typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)} = ${toml(x)}`).join(', ')} }`;
  return JSON.stringify(v);
}

/** The same routes as a TOML array of tables in [vars]. */
function tomlRoutesProject() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mesh-routes-toml-'));
  writeFileSync(path.join(dir, 'wrangler.toml'), [
    'name = "mesh-gateway-toml"', `main = ${JSON.stringify(path.join(ROOT, 'gateway/worker.js'))}`, 'compatibility_date = "2026-05-01"',
    '[[kv_namespaces]]', 'binding = "MESH_API_KEYS"', 'id = "mesh-api-keys-local"',
    '[vars]',
    `MESH_ROUTES = ${toml(ROUTES)}`,
  ].join('\n'));
  return path.join(dir, 'wrangler.toml');
}

describe('forwarded claims (MESH_FORWARD_CLAIMS)', () => {
  let gw;
  before(async () => { gw = await startGatewayStack({ vars: { MESH_FORWARD_CLAIMS: 'email:x-user-email,org.id:x-org-id,admin:x-admin' } }); });
  after(async () => { await gw?.stop(); });

  test('verified claims reach the origin as headers; a client-sent one never does, in any letter case', async () => {
    const forged = [['X-User-Email', 'boss@evil.example'], ['x-org-id', 'evil'], ['X-ADMIN', 'true'], ['X-Auth-Scopes', 'admin:all']];
    const token = await gw.token({ sub: 'u2', email: 'u2@x.example', org: { id: 'acme' }, admin: false, scope: 'a b' });
    const seen = assertForwarded(await gw.call('/api/v1/chat', { token, headers: forged }), { userId: 'u2', authMethod: 'jwt' });
    const values = (n) => seen.rawHeaders.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
    assert.deepEqual(values('x-user-email'), ['u2@x.example']);
    assert.deepEqual(values('x-org-id'), ['acme']);
    assert.deepEqual(values('x-admin'), ['false']);
    assert.deepEqual(values('x-auth-scopes'), ['a b']);
    // Absent claims send nothing, and the forged values are gone on a public route too.
    const bare = assertForwarded(await gw.call('/api/v1/chat', { token: await gw.token({ sub: 'u3' }), headers: forged }), { userId: 'u3', authMethod: 'jwt' });
    assert.ok(!JSON.stringify(bare.rawHeaders).match(/evil|boss|admin:all/), JSON.stringify(bare.rawHeaders));
    const pub = await gw.call('/health', { headers: forged });
    assert.ok(!JSON.stringify(pub.seen[0].rawHeaders).match(/evil|boss|admin:all/), JSON.stringify(pub.seen[0].rawHeaders));
  });
});

for (const [form, project] of [['a JSON file bundled with the worker', bundledRoutesProject], ['a TOML array in [vars]', tomlRoutesProject]]) {
  describe(`routes given as ${form}`, () => {
    let gw;
    before(async () => { gw = await startGatewayStack({ config: project() }); });
    after(async () => { await gw?.stop(); });

    test('the routes are the ones given, not the defaults', async () => {
      // /agent/v1/ is a default route; here it is no route at all.
      assert.equal((await gw.call('/agent/v1/x', { headers: [['X-API-Key', 'mesh_sk_x']] })).status, 404);
      assert.equal((await gw.call('/health')).status, 200);
    });

    test('a method the route does not take is 405 with Allow, before any credential', async () => {
      const t = await gw.token();
      for (const token of [undefined, t]) {
        const r = await gw.call('/api/v1/chat', { method: 'DELETE', token });
        assert.equal(r.status, 405, r.text);
        assert.equal(r.headers.allow, 'GET, POST');
        assert.equal(r.seen.length, 0);
      }
      const h = await gw.call('/health', { method: 'POST', body: {} });
      assert.equal(h.status, 405, h.text);
      assert.equal(h.headers.allow, 'GET');
    });

    const ALL = { scope: 'memories:read memories:write profile', org: { id: 'acme' }, role: 'owner' };
    test('a caller with every scope and claim passes, its scopes forwarded', async () => {
      for (const over of [ALL, { ...ALL, scope: undefined, scp: ['memories:write', 'memories:read'] }, { ...ALL, role: 'admin' }]) {
        const r = await gw.call('/api/v1/chat', { method: 'POST', body: {}, token: await gw.token({ sub: 'u1', ...over }) });
        const seen = assertForwarded(r, { userId: 'u1', authMethod: 'jwt' }, JSON.stringify(over));
        assert.deepEqual(seen.headers['x-auth-scopes'].split(' ').sort(), over.scp ? ['memories:read', 'memories:write'] : ['memories:read', 'memories:write', 'profile']);
      }
    });

    test('a missing scope, a scope in the wrong claim form, a wrong or mistyped claim: 403 naming what is missing', async () => {
      const cases = [
        [{ ...ALL, scope: 'memories:read' }, ['memories:write'], []],
        [{ ...ALL, scope: ['memories:read', 'memories:write'] }, ['memories:write', 'memories:read'], []],
        [{ ...ALL, scope: 'memories:read,memories:write' }, ['memories:write', 'memories:read'], []],
        [{ ...ALL, org: { id: 'evil' } }, [], ['org.id']],
        [{ ...ALL, org: { id: ['acme'] } }, [], ['org.id']],
        [{ ...ALL, org: 'acme' }, [], ['org.id']],
        [{ ...ALL, role: ['admin'] }, [], ['role']],
        [{ ...ALL, role: 'Admin' }, [], ['role']],
      ];
      for (const [over, scopes, claims] of cases) {
        const r = await gw.call('/api/v1/chat', { method: 'POST', body: {}, token: await gw.token(over), waitLogs: true });
        const where = `${JSON.stringify(over)}: ${r.status} ${r.text}`;
        assert.equal(r.status, 403, where);
        assert.equal(r.seen.length, 0, where);
        assert.equal(r.headers['www-authenticate'], 'Bearer error="insufficient_scope", scope="memories:write memories:read"', where);
        assert.deepEqual(r.json, { error: 'insufficient_scope', missing_scopes: scopes, missing_claims: claims }, where);
        const line = r.logLines.find((l) => l.event === 'auth_forbidden');
        assert.ok(line && line.rule === (scopes.length ? 'scope' : 'claim'), `${where}: ${JSON.stringify(r.logLines)}`);
      }
    });

    test('a route without rules takes any authenticated caller', async () => {
      assertForwarded(await gw.call('/open/x', { token: await gw.token({ sub: 'u1' }) }), { userId: 'u1', authMethod: 'jwt' });
      assertRejected(await gw.call('/open/x'), 'invalid_request');
    });
  });
}
