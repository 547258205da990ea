// The fixture of benches/scale/do-throughput.mjs. The worker routes
//   /ref                   answered by the worker itself (the reference)
//   /do/<op>?s=<shard>&k=<n>  forwarded to the object named `shard-<s>`
// and the object answers <op>:
//   noop        nothing stored or read: the Durable Object hop alone
//   lookup      a primary-key read of a key record (SQL), as a KeyShard does
//   lookup-kv   the same through the storage key-value API (get)
//   count       a rate-limit window counter: one upsert ... RETURNING (SQL)
//   count-kv    the same through the key-value API (get, then put)
// Records and counters are as large as the gateway's: a ~300-byte JSON
// record under a 64-hex hash; a counter per (key, minute window).
import { DurableObject } from 'cloudflare:workers';

const RECORDS = 10_000; // records per shard: enough that a read is an index lookup, not one hot row

const hashOf = (n) => (BigInt(n) * 0x9e3779b97f4a7c15n % (1n << 64n)).toString(16).padStart(16, '0').repeat(4);
const recordOf = (n) => JSON.stringify({
  id: `key_${n}`, owner: `user-${n % 997}`, name: 'ci-agent', prefix: 'mesh_sk_', last4: String(n % 10000).padStart(4, '0'),
  created: 1_764_000_000, scopes: ['memories:read', 'memories:write'], expires: 1_900_000_000, rate_limit: 600,
});

export class BenchShard extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec('CREATE TABLE IF NOT EXISTS records (hash TEXT PRIMARY KEY, record TEXT NOT NULL)');
      this.sql.exec('CREATE TABLE IF NOT EXISTS counters (key TEXT NOT NULL, window INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (key, window))');
      if (this.sql.exec('SELECT count(*) AS n FROM records').one().n < RECORDS) {
        const kv = new Map();
        for (let n = 0; n < RECORDS; n++) {
          this.sql.exec('INSERT OR REPLACE INTO records (hash, record) VALUES (?, ?)', hashOf(n), recordOf(n));
          kv.set(`key:${hashOf(n)}`, recordOf(n));
          if (kv.size === 128) { await ctx.storage.put(Object.fromEntries(kv)); kv.clear(); } // put() takes 128 keys at most
        }
        if (kv.size) await ctx.storage.put(Object.fromEntries(kv));
      }
    });
  }

  async fetch(request) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get('k') ?? 0);
    const window = Math.floor(Date.now() / 60_000);
    switch (url.pathname) {
      case '/noop':
        return new Response('{}');
      case '/lookup': {
        const row = this.sql.exec('SELECT record FROM records WHERE hash = ?', hashOf(n % RECORDS)).toArray()[0];
        return row ? new Response(row.record) : new Response('null', { status: 404 });
      }
      case '/lookup-kv': {
        const record = await this.ctx.storage.get(`key:${hashOf(n % RECORDS)}`);
        return record ? new Response(record) : new Response('null', { status: 404 });
      }
      case '/count': {
        const { count } = this.sql.exec(
          'INSERT INTO counters (key, window, count) VALUES (?, ?, 1) ON CONFLICT (key, window) DO UPDATE SET count = count + 1 RETURNING count',
          hashOf(n), window).one();
        return new Response(`{"count":${count}}`);
      }
      case '/count-kv': {
        const key = `rl:${hashOf(n)}:${window}`;
        const count = ((await this.ctx.storage.get(key)) ?? 0) + 1;
        await this.ctx.storage.put(key, count);
        return new Response(`{"count":${count}}`);
      }
      default:
        return new Response('unknown op', { status: 404 });
    }
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/ref') return new Response('{}');
    const op = /^\/do(\/[a-z-]+)$/.exec(url.pathname)?.[1];
    if (!op) return new Response('not found', { status: 404 });
    const stub = env.SHARD.get(env.SHARD.idFromName(`shard-${url.searchParams.get('s') ?? '0'}`));
    return stub.fetch(`https://shard${op}?k=${url.searchParams.get('k') ?? '0'}`);
  },
};
