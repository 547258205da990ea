// The gateway's JavaScript front and its core, driven directly in Node (the
// gateway runs there too): what plumbing.js cannot reach through requests.
// A resume whose id holds nothing can only come from a bug in the plumbing;
// it must answer 500 and forget the loaded configuration, since that call
// reads no env while the front's next "same env" flag would vouch for it.
// And an API key's last use written back with and without the Worker's ctx.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createGateway } from '../../pkg/node.js';
import { GatewayBinding } from '../../pkg/wasm/gateway/mesh_sdk_gateway.js';

const env = {
  MESH_UPSTREAM_URL: 'http://127.0.0.1:9/origin',
  MESH_ROUTES: JSON.stringify([{ prefix: '/health', auth: 'public' }]),
};
let logs;
let cores;
const saved = {};
before(() => {
  saved.fetch = globalThis.fetch;
  saved.log = console.log;
  saved.handle = GatewayBinding.prototype.handle;
  // The upstream, answered in-process; the log, kept; the core, caught.
  globalThis.fetch = async (url) => new Response(JSON.stringify({ url: String(url) }), { status: 200 });
  console.log = (line) => logs.push(String(line));
  cores = new Set();
  GatewayBinding.prototype.handle = function (...args) {
    cores.add(this);
    return saved.handle.apply(this, args);
  };
});
after(() => {
  globalThis.fetch = saved.fetch;
  console.log = saved.log;
  GatewayBinding.prototype.handle = saved.handle;
});

const events = (name) => logs.map((l) => { try { return JSON.parse(l); } catch { return {}; } }).filter((e) => e.event === name);

test('a resume with an unknown id answers 500 and the next request parses the configuration again', async () => {
  logs = [];
  const gateway = createGateway();
  const get = () => gateway.fetch(new Request('http://gw.test/health'), env);

  assert.equal((await get()).status, 200);
  assert.equal((await get()).status, 200);
  assert.equal(events('gateway_configured').length, 1, 'the same env is parsed once');
  assert.equal(cores.size, 1);
  const [core] = cores;

  const res = await core.resume({}, new Request('http://gw.test/health'), env, undefined, true, 987654, true);
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, 'server_error');
  assert.equal(events('internal_error').length, 1, 'the plumbing bug is logged');

  // The front still says "same env"; the core must not trust it now.
  assert.equal((await get()).status, 200);
  assert.equal(events('gateway_configured').length, 2, 'the configuration was read again');
});

/** The part of Workers KV the gateway uses, in memory; `failPut` refuses some writes. */
function memoryKv(failPut = () => false) {
  const map = new Map();
  return {
    map,
    async get(k) { return map.get(k)?.value ?? null; },
    async put(k, value, o) {
      if (failPut(k)) throw new Error('kv write refused');
      map.set(k, { value, metadata: o?.metadata });
    },
    async delete(k) { map.delete(k); },
    async list({ prefix }) {
      return { keys: [...map].filter(([k]) => k.startsWith(prefix)).map(([name, v]) => ({ name, metadata: v.metadata })), list_complete: true };
    },
  };
}

const SECRET = randomBytes(32).toString('base64url');
function hs256(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}
const keyEnv = (kv) => ({
  MESH_UPSTREAM_URL: 'http://127.0.0.1:9/origin',
  MESH_ROUTES: JSON.stringify([{ prefix: '/agent/', auth: 'api_key' }]),
  MESH_JWT_ISSUER: 'http://issuer.test',
  MESH_JWT_AUDIENCE: 'api',
  MESH_JWT_ALGORITHMS: 'HS256',
  MESH_JWT_HS256_SECRET: SECRET,
  MESH_API_KEYS: kv,
});
async function newKey(gateway, env) {
  const token = hs256({ iss: 'http://issuer.test', aud: 'api', sub: 'dana', exp: Math.floor(Date.now() / 1000) + 600 });
  const res = await gateway.fetch(new Request('http://gw.test/api/v1/keys', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"name":"n"}' }), env);
  assert.equal(res.status, 201);
  return res.json();
}
const stored = (kv, id) => [...kv.map.values()].filter((v) => v.value.includes(id) || v.metadata?.id === id);

test('a key\'s last use is written after the response: through ctx.waitUntil, or left running without a ctx', async () => {
  logs = [];
  const gateway = createGateway();
  const kv = memoryKv();
  const env = keyEnv(kv);
  const key = await newKey(gateway, env);
  const use = (ctx) => gateway.fetch(new Request('http://gw.test/agent/x', { headers: { 'x-api-key': key.key } }), env, ctx);

  // With a ctx: the write is handed to waitUntil, and lands.
  const waited = [];
  assert.equal((await use({ waitUntil: (p) => waited.push(p) })).status, 200);
  assert.equal(waited.length, 1, 'one write-back, through waitUntil');
  await waited[0];
  const record = JSON.parse([...kv.map].find(([k]) => k.startsWith('key:'))[1].value);
  assert.equal(typeof record.last_used, 'number');
  const index = [...kv.map].find(([k]) => k.startsWith('user:'))[1];
  assert.equal(index.metadata.last_used, record.last_used, 'the list sees it too');
  // Within the minute: no second write.
  assert.equal((await use({ waitUntil: (p) => waited.push(p) })).status, 200);
  assert.equal(waited.length, 1);

  // Without a ctx (Node): the write still happens, off the response.
  const other = await newKey(gateway, env);
  const res = await gateway.fetch(new Request('http://gw.test/agent/x', { headers: { 'x-api-key': other.key } }), env);
  assert.equal(res.status, 200);
  let written;
  for (let i = 0; i < 50 && !written; i++) {
    written = stored(kv, other.id).every((v) => (v.metadata ?? JSON.parse(v.value)).last_used);
    if (!written) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(written, 'the last use was written without a ctx');
});

test('a failed last-use write is logged and the request is not affected', async () => {
  logs = [];
  const gateway = createGateway();
  let refuse = false;
  const kv = memoryKv(() => refuse);
  const env = keyEnv(kv);
  const key = await newKey(gateway, env);
  refuse = true;
  const waited = [];
  const res = await gateway.fetch(new Request('http://gw.test/agent/x', { headers: { 'x-api-key': key.key } }), env, { waitUntil: (p) => waited.push(p) });
  assert.equal(res.status, 200, 'the request passed');
  await waited[0];
  assert.equal(events('last_use_write_failed').length, 1, logs.join('\n'));
});

test("a misspelt name in createGateway's options is logged like one in the env, and the gateway still serves", async () => {
  logs = [];
  // MESH_UPSTREAM_URL from the options, a misspelt MESH_CORS_ORIGINS beside it, and one in the env.
  const gateway = createGateway({ MESH_UPSTREAM_URL: 'http://127.0.0.1:9/origin', mesh_cors_origin: 'https://app.example' });
  const res = await gateway.fetch(new Request('http://gw.test/health'), { MESH_ROUTES: env.MESH_ROUTES, MESH_ROUTS: '[]' });
  assert.equal(res.status, 200);
  const warned = events('env_name_misspelt').map(({ level, name, meant }) => ({ level, name, meant }));
  assert.deepEqual(warned, [
    { level: 'warn', name: 'MESH_ROUTS', meant: 'MESH_ROUTES' },
    { level: 'warn', name: 'mesh_cors_origin', meant: 'MESH_CORS_ORIGINS' },
  ]);
});

test('a gateway configured by its options alone serves without an env (undefined, null, or one whose names cannot be listed), as in plain Node', async () => {
  logs = [];
  const gateway = createGateway({ MESH_UPSTREAM_URL: 'http://127.0.0.1:9/origin', MESH_ROUTES: env.MESH_ROUTES });
  // An env whose names cannot be listed (a Proxy's ownKeys throws) is read value by value all the same.
  const unlisted = new Proxy({}, { ownKeys() { throw new Error('no listing'); } });
  for (const none of [undefined, null, unlisted, undefined]) {
    const res = await gateway.fetch(new Request('http://gw.test/health'), none);
    assert.equal(res.status, 200, `env ${none}`);
    assert.deepEqual(await res.json(), { url: 'http://127.0.0.1:9/origin/health' });
  }
});
