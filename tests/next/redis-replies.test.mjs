// mesh-sdk/next's Redis client on what Redis answers besides values: an
// error reply fails its own command (code storage) and leaves the
// connection in step; a reply from a replica (READONLY) drops the
// connection, so that the next command connects again; bytes that are not
// RESP drop it too. Which replies drop it is the core's rule
// (server_session::redis::error_reply, host-tested); here a real
// redis-server, a real replica, and, for bytes Redis never sends, a TCP
// server on 127.0.0.1 that answers garbage.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RedisConnection } from '../../pkg/next-redis.js';
import { ServerRules } from '../../pkg/server-wasm.js';
import { BASE, SECRET, startRedis } from './support.mjs';

let primary;
before(async () => {
  primary = await startRedis();
});
after(async () => {
  await primary?.stop();
});

/** A connection with the core's rules and settings, as the store makes it. */
function connection(url) {
  const rules = new ServerRules({ baseUrl: BASE, secret: SECRET, store: 'memory' }, 10_000);
  return new RedisConnection(url, { rules, settings: rules.settings() });
}

describe('mesh-sdk/next, Redis replies', { timeout: 60_000 }, () => {
  test('an error reply fails that command only, with code storage and what Redis said; the connection stays', async () => {
    const conn = connection(primary.url);
    try {
      const id = await conn.command(['CLIENT', 'ID']);
      await assert.rejects(conn.command(['NOSUCH', 'x']), (e) => e.code === 'storage' && /^Redis refused the command: ERR unknown command 'NOSUCH'/.test(e.message));
      assert.equal(await conn.command(['SET', 'mesh:replies:list', 'v']), 'OK');
      await assert.rejects(conn.command(['LPUSH', 'mesh:replies:list', 'x']), (e) => e.code === 'storage' && /Redis refused the command: WRONGTYPE/.test(e.message));
      // An error inside an array is that command's error, read to the array's end:
      // the 2 after it must not answer the next command.
      const [inner, next] = await Promise.allSettled([conn.command(['EVAL', "return {redis.error_reply('BOOM inside'), 2}", '0']), conn.command(['ECHO', 'next'])]);
      assert.equal(inner.reason?.code, 'storage');
      assert.equal(inner.reason.message, 'Redis refused the command: BOOM inside');
      assert.equal(next.value, 'next');
      // Pipelined: the failing command between two others does not shift their answers.
      const [a, b, c] = await Promise.allSettled([conn.command(['ECHO', 'a']), conn.command(['NOSUCH']), conn.command(['ECHO', 'c'])]);
      assert.deepEqual([a.value, b.status, c.value], ['a', 'rejected', 'c']);
      assert.equal(await conn.command(['GET', 'mesh:replies:list']), 'v', 'in step');
      assert.equal(await conn.command(['CLIENT', 'ID']), id, 'the same connection');
    } finally {
      await conn.close();
    }
  });

  test('READONLY (a replica): that command fails with code storage, and the next one connects again', async () => {
    const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    const conn = connection(replica.url);
    try {
      const id = await conn.command(['CLIENT', 'ID']);
      await assert.rejects(conn.command(['SET', 'mesh:replies:ro', 'v']), (e) => e.code === 'storage' && /^Redis refused the command: READONLY/.test(e.message));
      assert.notEqual(await conn.command(['CLIENT', 'ID']), id, 'a new connection');
      // Promoted (as after a failover): the same client writes.
      assert.equal(await conn.command(['REPLICAOF', 'NO', 'ONE']), 'OK');
      assert.equal(await conn.command(['SET', 'mesh:replies:ro', 'v']), 'OK');
    } finally {
      await conn.close();
      await replica.stop();
    }
  });

  test('bytes that are not RESP: the command fails with code storage, the connection is closed, and the next command opens a new one', async () => {
    const sockets = [];
    const closed = [];
    const server = createServer((socket) => {
      const n = sockets.push(socket);
      socket.on('close', () => closed.push(n));
      // The first connection answers garbage; later ones answer as Redis would.
      socket.on('data', () => socket.write(n === 1 ? '?what is this\r\n' : '+PONG\r\n'));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const conn = connection(`redis://127.0.0.1:${server.address().port}`);
    try {
      await assert.rejects(conn.command(['PING']), (e) => e.code === 'storage' && e.message === 'Redis sent a reply that is not RESP ("?what is this"): the connection was dropped');
      for (let i = 0; i < 50 && !closed.includes(1); i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(closed, [1], 'the client closed the connection that went out of step');
      assert.equal(await conn.command(['PING']), 'PONG');
      assert.equal(sockets.length, 2, 'one new connection');
    } finally {
      await conn.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
