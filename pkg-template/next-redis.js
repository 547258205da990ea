// mesh-sdk/next's Redis store (`store: { redis: 'redis://host:port/db' }`),
// Node only. A small RESP2 client over node:net (one connection, replies in
// order) runs the core's keys and Lua scripts (src/client/server_session.rs,
// `redis`): the session's record, and its refresh lock with expiry and a
// fencing token, so that processes sharing a session spend its rotating
// refresh token once and a holder that dies frees the lock.

/// <reference types="node" />
import { connect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** @import { ServerStore } from './next.js' */
/** @import { StoreContext } from './next-core.js' */
/** @import { ServerRules, ServerSettings } from './steps.js' */
/** @import { RespValue } from './steps.js' */

/** @typedef {Pick<ServerSettings, 'redisDefaultPort' | 'redisConnectTimeoutMs' | 'redisCommandTimeoutMs' | 'redisReconnectDelaysMs'>} RedisSettings */
/** @typedef {Pick<ServerRules, 'redisTls' | 'redisFailure' | 'redisErrorReply' | 'redisReplies' | 'redisCommand'>} RedisRules */

/**
 * One connection to Redis; commands are pipelined and answered in order. A
 * dropped connection fails the commands in flight (`storage`: they may or
 * may not have run) and the next command connects again, with the core's
 * bounded attempts and backoff; every wait has the core's bound.
 */
export class RedisConnection {
  /**
   * @param {string} url `redis://[:password@]host:port[/db]`, or `rediss://` for TLS
   * @param {{ rules: RedisRules, settings: RedisSettings }} context
   */
  constructor(url, { rules, settings }) {
    this.url = new URL(url);
    this.rules = rules;
    this.settings = settings;
    this.tls = rules.redisTls(this.url.protocol);
    /** @type {import('node:net').Socket | null} */
    this.socket = null;
    /** @type {Promise<void> | null} */
    this.opening = null;
    /** @type {{ resolve: (v: RespValue) => void, reject: (e: unknown) => void, timer: ReturnType<typeof setTimeout> }[]} */
    this.waiting = [];
    /** @type {Buffer} */
    this.buffer = Buffer.alloc(0);
    this.closed = false;
  }

  /** One connection attempt, bounded by the core's connect timeout. @returns {Promise<import('node:net').Socket>} */
  #attempt() {
    const host = this.url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(this.url.port || this.settings.redisDefaultPort);
    return new Promise((resolve, reject) => {
      const socket = this.tls ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }) }) : connect({ host, port });
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no connection within ${this.settings.redisConnectTimeoutMs} ms`), { code: 'ETIMEDOUT' })), this.settings.redisConnectTimeoutMs);
      socket.once(this.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      });
    });
  }

  /** Connects (attempts and backoff from the core), then AUTH and SELECT. @returns {Promise<void>} */
  open() {
    if (this.socket) return Promise.resolve();
    this.opening ??= (async () => {
      const delays = this.settings.redisReconnectDelaysMs;
      /** @type {any} */
      let last = null;
      for (let attempt = 0; attempt <= delays.length && !this.closed; attempt++) {
        if (attempt > 0) await sleep(delays[attempt - 1]);
        let socket;
        try {
          socket = await this.#attempt();
        } catch (e) {
          last = e;
          continue;
        }
        if (this.closed) {
          socket.destroy();
          break;
        }
        this.#adopt(socket);
        try {
          if (this.url.password) await this.#send(['AUTH', decodeURIComponent(this.url.password)]);
          const db = this.url.pathname.slice(1);
          if (db) await this.#send(['SELECT', db]);
        } catch (e) {
          // Redis's own answer (a wrong password, a bad db): trying again will not change it.
          this.#drop(e);
          throw e;
        }
        return;
      }
      if (this.closed) throw this.rules.redisFailure('closed');
      throw this.rules.redisFailure('unreachable', `${this.url.host}, ${delays.length + 1} attempts: ${last?.code ?? last?.message ?? 'closed'}`);
    })().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** @param {import('node:net').Socket} socket */
  #adopt(socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#receive(chunk));
    socket.on('error', () => {}); // 'close' follows and fails what waits.
    socket.on('close', () => {
      if (this.socket === socket) this.#drop(this.rules.redisFailure('closed'));
    });
    this.socket = socket;
  }

  /** Ends the connection and fails every command in flight with `error`. @param {unknown} error */
  #drop(error) {
    const socket = this.socket;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    socket?.destroy();
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  /** @param {Buffer} chunk */
  #receive(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    // The core reads the replies (src/client/resp.rs); the rest waits for more bytes.
    const { used, replies, desync } = this.rules.redisReplies(this.buffer);
    this.buffer = this.buffer.subarray(used);
    for (const reply of replies) {
      const waiter = this.waiting.shift();
      // A reply no command asked for, or (below) bytes that are not RESP:
      // what follows cannot be matched to its command, so the connection goes.
      if (!waiter) return this.#drop(this.rules.redisFailure('protocol', 'a reply to no command'));
      clearTimeout(waiter.timer);
      if ('error' in reply) {
        // The core says which error replies mean this connection must go.
        const { error, reconnect } = this.rules.redisErrorReply(reply.error);
        waiter.reject(error);
        if (reconnect) return this.#drop(this.rules.redisFailure('closed'));
      } else waiter.resolve(reply.value);
    }
    if (desync !== undefined) this.#drop(this.rules.redisFailure('protocol', desync));
  }

  /** Writes one command on the open connection; its answer, within the core's bound. @param {string[]} args @returns {Promise<RespValue>} */
  #send(args) {
    const socket = this.socket;
    if (!socket) return Promise.reject(this.rules.redisFailure('closed'));
    const out = this.rules.redisCommand(args);
    const ms = this.settings.redisCommandTimeoutMs;
    return new Promise((resolve, reject) => {
      // Unanswered in time: the connection goes, since a late reply would answer the next command.
      const timer = setTimeout(() => this.#drop(this.rules.redisFailure('timeout', String(ms))), ms);
      this.waiting.push({ resolve, reject, timer });
      socket.write(out);
    });
  }

  /** @param {string[]} args @returns {Promise<RespValue>} */
  async command(args) {
    if (this.closed) throw this.rules.redisFailure('closed');
    if (!this.socket) await this.open();
    return this.#send(args);
  }

  async close() {
    this.closed = true;
    const socket = this.socket;
    this.#drop(this.rules.redisFailure('closed'));
    socket?.end();
  }
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @param {string} url @param {StoreContext} context @returns {Promise<ServerStore>} */
export async function redisStore(url, { rules, settings, core }) {
  // Connected on the first command, not here: this store is made once per
  // process, and Redis may be down at that moment and back later.
  const redis = new RedisConnection(url, { rules, settings });
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
