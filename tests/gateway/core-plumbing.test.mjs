// The gateway's JavaScript front and its core, driven directly in Node (the
// gateway runs there too): what plumbing.js cannot reach through requests.
// A resume whose id holds nothing can only come from a bug in the plumbing;
// it must answer 500 and forget the loaded configuration, since that call
// reads no env while the front's next "same env" flag would vouch for it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createGateway } from '../../pkg/node.js';
import { GatewayBinding } from '../../pkg/wasm/full/mesh_sdk.js';

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

  const res = await core.resume({}, new Request('http://gw.test/health'), env, true, 987654, true);
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, 'server_error');
  assert.equal(events('internal_error').length, 1, 'the plumbing bug is logged');

  // The front still says "same env"; the core must not trust it now.
  assert.equal((await get()).status, 200);
  assert.equal(events('gateway_configured').length, 2, 'the configuration was read again');
});
