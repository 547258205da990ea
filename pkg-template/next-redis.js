// mesh-sdk/next's Redis store (`store: { redis: 'redis://host:port/db' }`),
// Node only. A small RESP2 client over node:net (one connection, replies in
// order) runs the core's keys and Lua scripts (src/client/server_session.rs,
// `redis`): the session's record, and its refresh lock with expiry and a
// fencing token, so that processes sharing a session spend its rotating
// refresh token once and a holder that dies frees the lock.

/// <reference types="node" />
import { connect } from 'node:net';

/** @import { ServerStore } from './next.js' */
/** @import { StoreContext } from './next-core.js' */
/** @typedef {string | number | null | unknown[]} RespValue */

/** A Redis error reply. */
class RedisReplyError extends Error {}

/**
 * One reply from `buf` at `at`: `[value, next offset]`, or null while incomplete.
 * @param {Buffer} buf @param {number} at @returns {[RespValue | RedisReplyError, number] | null}
 */
function parseReply(buf, at) {
  const end = buf.indexOf('\r\n', at);
  if (end < 0) return null;
  const line = buf.toString('utf8', at + 1, end);
  switch (String.fromCharCode(buf[at])) {
    case '+':
      return [line, end + 2];
    case '-':
      return [new RedisReplyError(line), end + 2];
    case ':':
      return [Number(line), end + 2];
    case '$': {
      const n = Number(line);
      if (n < 0) return [null, end + 2];
      if (buf.length < end + 4 + n) return null;
      return [buf.toString('utf8', end + 2, end + 2 + n), end + 4 + n];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, end + 2];
      /** @type {RespValue[]} */
      const items = [];
      let next = end + 2;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, next);
        if (!item) return null;
        if (item[0] instanceof RedisReplyError) return [item[0], item[1]];
        items.push(item[0]);
        next = item[1];
      }
      return [items, next];
    }
    default:
      return [new RedisReplyError(`unexpected reply type ${buf[at]}`), buf.length];
  }
}

/** One connection to Redis; commands are pipelined and answered in order. */
export class RedisConnection {
  /** @param {string} url `redis://[:password@]host:port[/db]` */
  constructor(url) {
    this.url = new URL(url);
    /** @type {import('node:net').Socket | null} */
    this.socket = null;
    /** @type {Promise<void> | null} */
    this.opening = null;
    /** @type {{ resolve: (v: RespValue) => void, reject: (e: Error) => void }[]} */
    this.waiting = [];
    /** @type {Buffer} */
    this.buffer = Buffer.alloc(0);
  }

  /** @returns {Promise<void>} */
  open() {
    if (this.socket) return Promise.resolve();
    this.opening ??= new Promise((resolve, reject) => {
      const socket = connect({ host: this.url.hostname, port: Number(this.url.port || 6379) });
      socket.setNoDelay(true);
      socket.once('connect', () => {
        this.socket = socket;
        this.opening = null;
        resolve();
      });
      socket.on('data', (chunk) => this.#receive(chunk));
      socket.on('error', (e) => {
        this.opening = null;
        reject(e);
        this.#fail(e);
      });
      socket.on('close', () => this.#fail(new Error('the Redis connection closed')));
    });
    return this.opening.then(async () => {
      if (this.url.password) await this.command(['AUTH', decodeURIComponent(this.url.password)]);
      const db = this.url.pathname.slice(1);
      if (db) await this.command(['SELECT', db]);
    });
  }

  /** @param {Error} e */
  #fail(e) {
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  /** @param {Buffer} chunk */
  #receive(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const reply = at < this.buffer.length ? parseReply(this.buffer, at) : null;
      if (!reply) break;
      at = reply[1];
      const waiter = this.waiting.shift();
      if (reply[0] instanceof RedisReplyError) waiter?.reject(reply[0]);
      else waiter?.resolve(reply[0]);
    }
    this.buffer = this.buffer.subarray(at);
  }

  /** @param {string[]} args @returns {Promise<RespValue>} */
  async command(args) {
    if (!this.socket) await this.open();
    const socket = /** @type {import('node:net').Socket} */ (this.socket);
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      socket.write(out);
    });
  }

  async close() {
    const socket = this.socket;
    this.socket = null;
    socket?.end();
  }
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @param {string} url @param {StoreContext} context @returns {Promise<ServerStore>} */
export async function redisStore(url, { rules, settings, core }) {
  const redis = new RedisConnection(url);
  await redis.open();
  const scripts = settings.scripts;
  return {
    async get(sid) {
      const v = await redis.command(['GET', rules.redisKeys(sid).session]);
      return typeof v === 'string' ? v : null;
    },
    async set(sid, record, ttlMs, fence) {
      const k = rules.redisKeys(sid);
      if (fence === null) {
        await redis.command(['SET', k.session, record, 'PX', String(Math.ceil(ttlMs))]);
        return true;
      }
      return (await redis.command(['EVAL', scripts.write, '2', k.lock, k.session, fence, record, String(Math.ceil(ttlMs))])) === 1;
    },
    async remove(sid, fence) {
      const k = rules.redisKeys(sid);
      if (fence === null) await redis.command(['DEL', k.session]);
      else await redis.command(['EVAL', scripts.remove, '2', k.lock, k.session, fence]);
    },
    async withLock(sid, ttlMs, onFence, fn) {
      const k = rules.redisKeys(sid);
      const deadline = Date.now() + settings.lockWaitMs;
      let fence = '';
      for (;;) {
        const got = await redis.command(['EVAL', scripts.acquire, '2', k.lock, k.fence, String(settings.lockTtlMs), String(Math.ceil(ttlMs))]);
        if (typeof got === 'number' && got > 0) {
          fence = String(got);
          break;
        }
        if (Date.now() >= deadline) throw core.failure('lock_wait');
        await sleep(settings.lockPollMs);
      }
      onFence(fence);
      try {
        return await fn();
      } finally {
        onFence(null);
        await redis.command(['EVAL', scripts.release, '1', k.lock, fence]).catch(() => {});
      }
    },
    close: () => redis.close(),
  };
}
