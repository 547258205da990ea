// mesh-sdk/next with a server store: the cookie holds a random session id
// only, the tokens stay on the server. With a real redis-server, four Node
// processes share one nearly expired session: one token request, no failure,
// no refresh token spent twice; a dead lock holder frees the lock by itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createMeshAuth } from '../../pkg/next.js';
import { RedisConnection } from '../../pkg/next-redis.js';
import { ServerRules } from '../../pkg/wasm/server/mesh_sdk.js';
import { sleep } from '../support/http.mjs';
import { BASE, Jar, appOptions, openCookie, post, signIn, startIdp, startRedis } from './support.mjs';

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

/** The session id inside a server store's cookie. */
async function sessionIdOf(jar) {
  const [name] = jar.sessionCookies();
  const [version, sid, created, record] = (await openCookie(name, jar.cookies.get(name))).split('|');
  assert.equal(version, '1');
  assert.ok(Number(created) > 0);
  assert.equal(record, '', 'no tokens in the cookie');
  return sid;
}

describe('mesh-sdk/next, server stores', { timeout: 85_000 }, () => {
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
      const conn = new RedisConnection(redis.url);
      assert.equal(await conn.command(['EXISTS', `mesh:lock:${sid}`]), 0, 'the lock was released');
      await conn.close();
    });
  });

  test('Redis: a lock whose holder died expires; the next refresh then goes ahead, once', async () => {
    const conn = new RedisConnection(redis.url);
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
      const { scripts } = new ServerRules({ baseUrl: options.baseUrl, secret: options.secret }, true, 10_000).settings();
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

  test('Redis unreachable: auth() and getAccessToken() fail with code storage, not as a signed-out user', async () => {
    await signedInOnRedis(async ({ mesh, jar, options }) => {
      await redis.stop();
      await assert.rejects(mesh.auth(jar.request('/')), (e) => e.code === 'storage');
      await assert.rejects(mesh.getAccessToken(jar.request('/')), (e) => e.code === 'storage');
    });
  });
});
