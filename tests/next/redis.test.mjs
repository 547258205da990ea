// mesh-sdk/next with a server store: the cookie holds a random session id
// only, the tokens stay on the server. With a real redis-server, four Node
// processes share one nearly expired session: one token request, no failure,
// no refresh token spent twice; a dead lock holder frees the lock by itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defineMeshAuth } from '../../pkg/next-core.js';
import { createMeshAuth } from '../../pkg/next.js';
import { RedisConnection, redisStore } from '../../pkg/next-redis.js';
import { ClientCore, ServerRules } from '../../pkg/server-wasm.js';
import { freePort, sleep } from '../support/http.mjs';
import { BASE, Jar, SECRET, appOptions, get, openCookie, post, signIn, startIdp, startLogin, startRedis } from './support.mjs';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./fixtures/refresh-worker.mjs', import.meta.url));

let idp;
let grants;
let redis;
before(async () => {
  ({ idp, grants } = await startIdp({ accessTokenTtl: 4 }));
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
  await idp?.close();
});

/** Runs `fn` with a createMeshAuth on the Redis store and a browser signed in to it; closes it after. */
async function signedInOnRedis(fn) {
  const options = appOptions(idp, { store: { redis: redis.url } });
  const mesh = createMeshAuth(options);
  try {
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    return await fn({ mesh, jar, options });
  } finally {
    await mesh.close();
  }
}

/** A connection with the core's rules and settings, as the store makes it. */
function connection(url) {
  const rules = new ServerRules({ baseUrl: BASE, secret: SECRET, store: 'memory' }, 10_000);
  return new RedisConnection(url, { rules, settings: rules.settings() });
}

/** `promise`'s outcome, or 'hung' after `ms` (the test's own bound; the store's are the core's). */
const settle = (promise, ms = 20_000) =>
  Promise.race([promise.then((value) => ({ value }), (error) => ({ error })), sleep(ms).then(() => 'hung')]);

/** The session id inside a server store's cookie. */
async function sessionIdOf(jar) {
  const [name] = jar.sessionCookies();
  const [version, sid, created, record] = (await openCookie(name, jar.cookies.get(name))).split('|');
  assert.equal(version, '1');
  assert.ok(Number(created) > 0);
  assert.equal(record, '', 'no tokens in the cookie');
  return sid;
}

describe('mesh-sdk/next, server stores', { timeout: 150_000 }, () => {
  test("store 'memory': the cookie holds an id; auth, refresh and logout work on the server's record", async () => {
    const mesh = createMeshAuth(appOptions(idp, { store: 'memory' }));
    try {
      const jar = new Jar();
      await signIn(mesh, jar, idp);
      assert.equal(jar.sessionCookies().length, 1);
      assert.ok(jar.cookies.get('mesh.session').length < 200, 'an id, not the tokens');
      await sessionIdOf(jar);
      assert.equal((await mesh.auth(jar.request('/'))).user.name, 'Demo User');
      const first = await mesh.getAccessToken(jar.request('/'));
      await sleep(2600);
      const headers = new Headers();
      const second = await mesh.getAccessToken(jar.request('/'), headers);
      assert.notEqual(first, second);
      assert.deepEqual(headers.getSetCookie(), [], 'a refresh does not touch the cookie');
      await post(mesh, jar, '/auth/logout');
      assert.equal(await mesh.auth(new Jar([['mesh.session', 'x']]).request('/')), null);
    } finally {
      await mesh.close();
    }
  });

  test('Redis: 4 processes x 25 concurrent requests on one nearly expired session: one token request, no failure, no token spent twice', async () => {
    await signedInOnRedis(async ({ mesh, jar, options }) => {
      const sid = await sessionIdOf(jar);
      const first = await mesh.getAccessToken(jar.request('/'));
      const beforeCount = grants.refresh_token;
      // Processes start, load the package, then fire together once the token is due.
      const startAt = Date.now() + 3000;
      const workers = await Promise.all(
        Array.from({ length: 4 }, () => run(process.execPath, [WORKER, JSON.stringify({ options, cookie: jar.header(), n: 25, startAt })], { timeout: 60_000 })),
      );
      const results = workers.map((w) => JSON.parse(w.stdout.trim().split('\n').pop()));
      assert.deepEqual(results.flatMap((r) => r.failures), [], 'no request failed');
      const tokens = new Set(results.flatMap((r) => r.tokens));
      assert.equal(tokens.size, 1, 'every process got the one new token');
      assert.notEqual([...tokens][0], first);
      assert.equal(grants.refresh_token - beforeCount, 1, 'exactly one token request');
      assert.deepEqual(grants.errors, [], 'no refresh token was presented twice');
      // The parent, whose cached token is now stale, adopts the stored tokens.
      await sleep(200);
      const conn = connection(redis.url);
      assert.equal(await conn.command(['EXISTS', `mesh:lock:${sid}`]), 0, 'the lock was released');
      await conn.close();
    });
  });

  test('Redis: a lock whose holder died expires; the next refresh then goes ahead, once', async () => {
    const conn = connection(redis.url);
    await signedInOnRedis(async ({ mesh, jar, options }) => {
      const sid = await sessionIdOf(jar);
      await sleep(2600);
      // A holder that took the lock and died: its lock expires in 1.5 s.
      assert.equal(await conn.command(['SET', `mesh:lock:${sid}`, '999', 'PX', '1500']), 'OK');
      const beforeCount = grants.refresh_token;
      const started = Date.now();
      const tokens = await Promise.all(Array.from({ length: 10 }, () => mesh.getAccessToken(jar.request('/'))));
      assert.ok(Date.now() - started >= 1000, 'it waited for the dead lock');
      assert.equal(new Set(tokens).size, 1);
      assert.equal(grants.refresh_token - beforeCount, 1);
      // Fencing, with the core's scripts: a holder whose lock expired and was
      // taken again can neither write nor delete the session.
      const { scripts } = new ServerRules({ baseUrl: options.baseUrl, secret: options.secret, store: 'memory' }, 10_000).settings();
      const keys = [`mesh:lock:${sid}`, `mesh:fence:${sid}`];
      const f1 = await conn.command(['EVAL', scripts.acquire, '2', ...keys, '1000', '60000']);
      assert.ok(f1 > 0);
      assert.equal(await conn.command(['EVAL', scripts.acquire, '2', ...keys, '1000', '60000']), 0, 'held');
      await conn.command(['DEL', keys[0]]); // f1's lock expires
      const f2 = await conn.command(['EVAL', scripts.acquire, '2', ...keys, '1000', '60000']);
      assert.ok(f2 > f1);
      const session = `mesh:session:${sid}`;
      const stored = await conn.command(['GET', session]);
      assert.equal(await conn.command(['EVAL', scripts.write, '2', keys[0], session, String(f1), 'stale', '60000']), 0);
      assert.equal(await conn.command(['EVAL', scripts.remove, '2', keys[0], session, String(f1)]), 0);
      assert.equal(await conn.command(['GET', session]), stored, 'untouched');
      assert.equal(await conn.command(['EVAL', scripts.release, '1', keys[0], String(f1)]), 0, 'not its lock to free');
      assert.equal(await conn.command(['EVAL', scripts.release, '1', keys[0], String(f2)]), 1);
      // Logout in one process is seen by another.
      const other = createMeshAuth(options);
      assert.ok(await other.auth(jar.request('/')));
      await mesh.handlers.POST(jar.request('/auth/logout', { method: 'POST', headers: { origin: BASE } })).then((r) => r.body?.cancel());
      assert.equal(await other.auth(jar.request('/')), null);
      await other.close();
    }).finally(() => conn.close());
  });

  test('Redis dies mid-command and restarts: the request in flight fails with code storage (no hang), and after the restart the same process works again', async () => {
    await signedInOnRedis(async ({ mesh, jar, options }) => {
      assert.equal((await mesh.auth(jar.request('/'))).user.name, 'Demo User', 'connected');
      // A command in flight: the server is stopped before it answers, then killed.
      redis.signal('SIGSTOP');
      const inFlight = settle(mesh.auth(jar.request('/')));
      await sleep(300);
      redis.signal('SIGKILL');
      const first = await inFlight;
      assert.notEqual(first, 'hung', 'the request in flight did not hang');
      assert.equal(first.error?.code, 'storage', String(first.error ?? first.value));
      assert.match(first.error.message, /the Redis connection closed before the command was answered/);
      // While it is down: each request fails after the core's bounded attempts.
      const down = await settle(mesh.getAccessToken(jar.request('/')));
      assert.notEqual(down, 'hung');
      assert.equal(down.error?.code, 'storage', String(down.error ?? down.value));
      assert.match(down.error.message, /Redis could not be reached: 127\.0\.0\.1:\d+, 5 attempts: ECONNREFUSED/);
      // Restarted on the same port (empty: nothing is persisted): the same store reconnects.
      await redis.stop();
      redis = await startRedis({ port: redis.port });
      assert.equal(await mesh.auth(jar.request('/')), null, 'the record went with the old server: signed out, not an error');
      const again = new Jar();
      await signIn(mesh, again, idp);
      assert.equal((await mesh.auth(again.request('/'))).user.name, 'Demo User');
      assert.ok(await mesh.getAccessToken(again.request('/')));
      // Another process on the same Redis sees the new session.
      const other = createMeshAuth(options);
      assert.equal((await other.auth(again.request('/'))).user.name, 'Demo User');
      await other.close();
    });
  });

  test('rediss://: the store speaks TLS to a TLS-only redis-server and checks its certificate', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-redis-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert]);
    const port = await freePort();
    const tls = await startRedis({ port, args: ['--port', '0', '--tls-port', String(port), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'] });
    t.after(() => tls.stop());
    // A process of its own, so that it can trust the test's certificate (NODE_EXTRA_CA_CERTS).
    const script = `
      import { RedisConnection } from ${JSON.stringify(new URL('../../pkg/next-redis.js', import.meta.url).href)};
      import { ServerRules } from ${JSON.stringify(new URL('../../pkg/server-wasm.js', import.meta.url).href)};
      const rules = new ServerRules({ baseUrl: 'http://localhost:3000', secret: 'a-test-secret-of-enough-length-0123456789', store: 'memory' }, 10000);
      const conn = new RedisConnection(process.argv[1], { rules, settings: rules.settings() });
      try {
        await conn.command(['SET', 'mesh:tls', 'yes']);
        console.log(JSON.stringify({ value: await conn.command(['GET', 'mesh:tls']) }));
      } catch (e) {
        console.log(JSON.stringify({ code: e.code, message: e.message }));
      } finally {
        await conn.close();
      }`;
    const probe = async (url, env) => JSON.parse((await run(process.execPath, ['--input-type=module', '-e', script, url], { env: { ...process.env, ...env }, timeout: 30_000 })).stdout);
    assert.deepEqual(await probe(`rediss://localhost:${port}`, { NODE_EXTRA_CA_CERTS: cert }), { value: 'yes' });
    const untrusted = await probe(`rediss://localhost:${port}`, {});
    assert.equal(untrusted.code, 'storage');
    assert.match(untrusted.message, /Redis could not be reached: localhost:\d+, 5 attempts: (SELF_SIGNED|DEPTH_ZERO_SELF_SIGNED)/);
    // Plain RESP to the TLS port is not answered as Redis: it fails, bounded, with a coded error.
    const plain = await probe(`redis://localhost:${port}`, {});
    assert.equal(plain.code, 'storage', JSON.stringify(plain));
  });

  test('Redis unreachable: auth() and getAccessToken() fail with code storage, not as a signed-out user; sign-out still clears the cookies', async (t) => {
    // A server of its own, so that this test does not hang on what the tests before did to the shared one.
    const own = await startRedis();
    const mesh = createMeshAuth(appOptions(idp, { store: { redis: own.url } }));
    try {
      const jar = new Jar();
      await signIn(mesh, jar, idp);
      assert.equal((await mesh.auth(jar.request('/'))).user.name, 'Demo User');
      await own.stop();
      await assert.rejects(mesh.auth(jar.request('/')), (e) => e.code === 'storage');
      await assert.rejects(mesh.getAccessToken(jar.request('/')), (e) => e.code === 'storage');
      // Sign-out does not wait on the store: the browser loses the cookie, the failure is logged.
      const logged = t.mock.method(console, 'error', () => {});
      const out = await post(mesh, jar, '/auth/logout?returnTo=/bye');
      assert.equal(out.status, 302, await out.clone().text());
      assert.equal(out.headers.get('location'), `${BASE}/bye`);
      assert.match(out.headers.getSetCookie().join('\n'), /^mesh\.session=; .*Max-Age=0/);
      assert.deepEqual(jar.sessionCookies(), []);
      assert.equal(logged.mock.callCount(), 1);
      const [reported] = logged.mock.calls[0].arguments;
      assert.equal(reported.code, 'storage');
      assert.match(reported.message, /^signed out without the session store \(storage failed: Redis could not be reached: .*\): its record expires with the session$/);
    } finally {
      await mesh.close();
      await own.stop();
    }
  });

  test('Redis down when the store is first made, started later on the same port: the next requests make it again and work', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    // The package's store, made at once and checked by a first command (as a
    // store that connects when made does): its first making fails.
    let made = 0;
    const connecting = async (storeUrl, context) => {
      made += 1;
      const store = await redisStore(storeUrl, context);
      await store.get('probe');
      return store;
    };
    const meshes = [createMeshAuth(appOptions(idp, { store: { redis: url } })), defineMeshAuth(ClientCore, ServerRules, connecting)(appOptions(idp, { store: { redis: url } }))];
    let own;
    try {
      for (const mesh of meshes) {
        const jar = new Jar();
        const callback = await startLogin(mesh, jar, idp);
        const res = await get(mesh, jar, callback.slice(BASE.length));
        const body = await res.json();
        assert.equal(body.error, 'storage', JSON.stringify(body));
        assert.match(body.message, /Redis could not be reached: 127\.0\.0\.1:\d+, 5 attempts: ECONNREFUSED/);
      }
      assert.equal(made, 1);
      own = await startRedis({ port });
      for (const mesh of meshes) {
        const jar = new Jar();
        await signIn(mesh, jar, idp);
        assert.equal((await mesh.auth(jar.request('/'))).user.name, 'Demo User');
        assert.ok(await mesh.getAccessToken(jar.request('/')));
      }
      assert.equal(made, 2, 'made again once, then kept');
    } finally {
      for (const mesh of meshes) await mesh.close();
      await own?.stop();
    }
  });
});
