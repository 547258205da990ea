// The gateway's Durable Objects at edge scale, on paper: how many calls the
// TokenBroker, the KeyShards and the RateLimitShards receive when the gateway
// runs in --locations x --isolates isolates at 10k, 100k and 1M requests per
// second, and where one object would pass --limit requests per second.
//
//   node benches/scale/model.mjs [--locations 300] [--isolates 50]
//        [--rates 10000,100000,1000000] [--limit 1000] [--lookup-limit N] [--take-limit N]
//        [--token-lifetime 3600] [--ask-spread 0] [--keys 100000] [--hot-share 0.1]
//        [--key-locations 1] [--cache 0,5,60] [--shard-chars N] [--rate-limit 100000]
//
// What is replayed, and what is a formula:
// - Broker: one lifetime of one token. Every isolate holds the same token, so
//   every isolate reaches its ask point at the same moment; each asks on its
//   first request after it (an isolate's requests are a Poisson stream of
//   rate / isolates), once (an isolate's call in flight is not repeated). The
//   calls are replayed through one FIFO server taking --broker-limit per
//   second: the figures are the time the last isolate gets its answer and
//   the deepest queue. --ask-spread S spreads each isolate's ask point
//   uniformly over S seconds before the rule's (a jitter the code does not
//   have today): the row with the spread that keeps the broker under its limit.
// - Keys: --keys real SHA-256 hashes of synthetic keys, put in the shard their
//   first --shard-chars hex digits name (the rule of src/gateway/shard.rs), so
//   the busiest shard is the busiest one a real hash spread gives, not an
//   average. A key's requests spread evenly over the isolates of
//   --key-locations locations (the hot key: all of them). An isolate that sees
//   a key's requests at rate q and keeps its record C seconds asks the shard
//   q / (1 + qC) times a second (a miss, then C seconds of hits, then the wait
//   for the next request: a renewal process). Every isolate that used a key in
//   the last minute also writes its last use back, once a minute: one `Touch`
//   to the record's shard, one `IndexTouch` to the owner's (one owner per key),
//   unless the record shows a write-back in the last minute: about one per
//   key per minute, plus the uses that read the old value meanwhile (--rtt).
// - Rate limits: one RateLimitShard per key (src/gateway/rate_limit.rs:
//   `Subject::object_name`), and every request of a key with a limit takes
//   from it, refused or not: the object's load is the key's rate.
//
// Constants the gateway fixes are read from its source, so the model follows
// the code (the file it read is printed): the client's refresh leeway and the
// broker's margin rule, the key shard prefix, the lastUsedAt write-back
// period, the largest per-key limit. Where a file is absent (a branch without
// that code yet), the default printed beside it is used.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** `pub const NAME: T = value;` of a Rust file, as a number; `fallback` when absent. */
function rustConst(file, name, fallback) {
  const full = path.join(ROOT, file);
  if (existsSync(full)) {
    const m = new RegExp(`pub const ${name}: [^=]+= ([^;]+);`).exec(readFileSync(full, 'utf8'));
    if (m) {
      const v = Number(m[1].replace(/_/g, '').replace(/^.*\.\.=\s*/, ''));
      if (Number.isFinite(v)) return { value: v, from: `${file} ${name}` };
    }
  }
  return { value: fallback, from: `default (${file} ${name} not found)` };
}

const LEEWAY = rustConst('src/client/config.rs', 'DEFAULT_REFRESH_LEEWAY_SECS', 60);
const SAFETY = rustConst('src/gateway/token_broker.rs', 'EXPIRY_SAFETY_MS', 1000);
const SHARD_CHARS = rustConst('src/gateway/shard.rs', 'SHARD_HEX_CHARS', 3);
const TOUCH = rustConst('src/gateway/key_use.rs', 'WINDOW_SECS', 60);
const MAX_RATE_LIMIT = rustConst('src/gateway/api_keys.rs', 'RATE_LIMIT_RANGE', 100_000);

const { values: opt } = parseArgs({
  options: {
    locations: { type: 'string', default: '300' },
    isolates: { type: 'string', default: '50' },
    rates: { type: 'string', default: '10000,100000,1000000' },
    limit: { type: 'string', default: '1000' },
    'lookup-limit': { type: 'string' },
    'take-limit': { type: 'string' },
    'broker-limit': { type: 'string' },
    'token-lifetime': { type: 'string', default: '3600' },
    'ask-spread': { type: 'string' },
    keys: { type: 'string', default: '100000' },
    'hot-share': { type: 'string', default: '0.1' },
    'key-locations': { type: 'string', default: '1' },
    cache: { type: 'string', default: '0,5,60' },
    'shard-chars': { type: 'string', default: String(SHARD_CHARS.value) },
    'rate-limit': { type: 'string', default: String(MAX_RATE_LIMIT.value) },
    rtt: { type: 'string', default: '0.05' },
    seed: { type: 'string', default: '1' },
  },
});
const num = (k) => Number(opt[k]);
const LOCATIONS = num('locations');
const PER_LOCATION = num('isolates');
const ISOLATES = LOCATIONS * PER_LOCATION;
const RATES = opt.rates.split(',').map(Number);
const LIMIT = num('limit');
const LOOKUP_LIMIT = Number(opt['lookup-limit'] ?? LIMIT);
const TAKE_LIMIT = Number(opt['take-limit'] ?? LIMIT);
const BROKER_LIMIT = Number(opt['broker-limit'] ?? LIMIT);
const LIFETIME = num('token-lifetime');
const KEYS = num('keys');
const HOT = num('hot-share');
const KEY_LOCATIONS = num('key-locations');
const CACHES = opt.cache.split(',').map(Number);
const CHARS = num('shard-chars');
const RATE_LIMIT = num('rate-limit');
const RTT = num('rtt');

let seed = num('seed') >>> 0 || 1; // mulberry32: the same arguments print the same figures
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const exp = (rate) => -Math.log(1 - rand()) / rate;

const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const f1 = (x) => (x >= 100 ? int(x) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));
const p = (s = '') => console.log(s);

p(`# Gateway Durable Objects at ${int(LOCATIONS)} locations x ${int(PER_LOCATION)} isolates (${int(ISOLATES)} isolates)`);
p();
p(`Object limit: lookups ${int(LOOKUP_LIMIT)}/s, rate-limit takes ${int(TAKE_LIMIT)}/s, broker calls ${int(BROKER_LIMIT)}/s per object.`);
p('Read from the code:');
for (const c of [['refresh leeway, s', LEEWAY], ['broker: no token handed out this close to expiry, ms', SAFETY], ['key shard: hex digits of the hash', SHARD_CHARS], ['lastUsedAt write-back period, s', TOUCH], ['largest per-key rateLimit, per minute', MAX_RATE_LIMIT]]) {
  p(`- ${c[0]}: ${c[1].value} (${c[1].from})`);
}

// ---------------------------------------------------------------- broker
// The rule (src/gateway/token_broker.rs): the broker refreshes at expiry minus
// margin = min(leeway, lifetime / 2); an isolate asks when half of that margin
// is left and keeps serving its token while it asks, until EXPIRY_SAFETY_MS
// before expiry.
const margin = Math.min(LEEWAY.value, LIFETIME / 2);
const askLead = margin / 2;
const serveUntil = askLead - SAFETY.value / 1000; // seconds after the ask point an isolate may still serve the old token

/** One lifetime: every isolate's call to the broker through a FIFO server. */
function replayBroker(rate, spread) {
  const perIsolate = rate / ISOLATES;
  const arrivals = new Float64Array(ISOLATES);
  for (let i = 0; i < ISOLATES; i++) arrivals[i] = spread * rand() + exp(perIsolate);
  arrivals.sort();
  const service = 1 / BROKER_LIMIT;
  let free = 0;
  let lastDone = 0;
  let deepest = 0;
  let head = 0; // the queue at each arrival: calls arrived but not yet done
  const done = new Float64Array(ISOLATES);
  for (let i = 0; i < ISOLATES; i++) {
    free = Math.max(free, arrivals[i]) + service;
    done[i] = free;
    while (done[head] <= arrivals[i]) head++;
    deepest = Math.max(deepest, i - head + 1);
    lastDone = free;
  }
  // Ask points fall in [0, spread]; the rule's is at `spread`, and the old
  // token is served until `serveUntil` after it: an answer later than that
  // keeps that isolate's requests waiting.
  const late = done.filter((d) => d > spread + serveUntil).length;
  return { firstToLast: arrivals[ISOLATES - 1] - arrivals[0], lastDone: lastDone - spread, deepest, peak: peakRate(arrivals), late };
}

/** The highest rate of calls over any 1-second span. */
function peakRate(sorted) {
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] > 1) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

p();
p(`## TokenBroker: calls per token lifetime (token lifetime ${int(LIFETIME)} s; margin ${f1(margin)} s; isolates ask ${f1(askLead)} s before expiry and may serve the old token ${f1(serveUntil)} s more)`);
p();
p('| requests/s | token requests per lifetime, no broker (each isolate its own) | with the broker | broker calls per lifetime | calls arrive within, s | peak calls/s at the broker | last isolate answered after, s | deepest queue | isolates answered too late |');
p('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
// Random arrivals bunch: 1.25x the even spread keeps the busiest second under the limit.
const spreadNeeded = Math.ceil((1.25 * ISOLATES) / BROKER_LIMIT);
const spreads = opt['ask-spread'] !== undefined ? [Number(opt['ask-spread'])] : [0, spreadNeeded];
for (const spread of spreads) {
  for (const rate of RATES) {
    const b = replayBroker(rate, spread);
    const label = spread ? `${int(rate)} (ask spread ${f1(spread)} s)` : int(rate);
    p(`| ${label} | ${int(ISOLATES)} | 1 | ${int(ISOLATES)} | ${f1(b.firstToLast)} | ${int(b.peak)} | ${f1(b.lastDone)} | ${int(b.deepest)} | ${int(b.late)} |`);
  }
}
p();
p(`Without the broker every isolate runs its own client-credentials grant: ${int(ISOLATES)} token requests per lifetime, ${int(ISOLATES)} at once after a deploy. With it the token endpoint sees 1 per lifetime, the broker ${int(ISOLATES)} calls (one per isolate), all at the same ask point: they drain in ${f1(ISOLATES / BROKER_LIMIT)} s at ${int(BROKER_LIMIT)}/s, inside the ${f1(serveUntil)} s the old token stays usable. Spreading the ask point over ${f1(spreadNeeded)} s keeps the broker at its limit. A cold start (deploy: every isolate new, no token) makes the same ${int(ISOLATES)} calls with requests waiting on them: up to ${f1(ISOLATES / BROKER_LIMIT)} s at ${int(BROKER_LIMIT)}/s.`);

// ---------------------------------------------------------------- keys
const hashes = Array.from({ length: KEYS }, (_, i) => createHash('sha256').update(`mesh_sk_bench_${i}`).digest('hex'));
const owners = Array.from({ length: KEYS }, (_, i) => createHash('sha256').update(`user-${i}`).digest('hex'));
/** Key i's shard when shards are named by the first `chars` hex digits. */
const shardOf = (hex, chars) => (chars === 0 ? 0 : parseInt(hex.slice(0, chars), 16));

/**
 * Requests per second each shard receives for lookups (plus the last-use
 * write-back), with `hot` of the rate on key 0 spread over every isolate.
 */
function keyLoads(rate, cacheSecs, chars, hot) {
  const shards = new Float64Array(16 ** chars);
  const coldRate = (rate * (1 - hot)) / (hot > 0 ? KEYS - 1 : KEYS);
  let hotLoad = 0;
  let total = 0;
  for (let i = 0; i < KEYS; i++) {
    const isHot = hot > 0 && i === 0;
    const r = isHot ? rate * hot : coldRate;
    const spread = (isHot ? LOCATIONS : Math.min(KEY_LOCATIONS, LOCATIONS)) * PER_LOCATION;
    const q = r / spread;
    const lookups = r / (1 + q * cacheSecs);
    // Once a minute the record's last use turns old; every use that reads it
    // old (a lookup before the first write-back lands, RTT later, or a cached
    // copy up to C seconds stale) writes back, at most once per isolate that
    // used the key this minute (src/gateway/key_use.rs `touch_due`).
    const active = spread * (1 - Math.exp(-q * TOUCH.value));
    const touches = Math.min(active, 1 + r * (RTT + cacheSecs)) * (1 - Math.exp(-r * TOUCH.value)) / TOUCH.value;
    shards[shardOf(hashes[i], chars)] += lookups + touches;
    shards[shardOf(owners[i], chars)] += touches;
    total += lookups + 2 * touches;
    if (isHot) hotLoad = lookups + touches;
  }
  let max = 0;
  for (const s of shards) max = Math.max(max, s);
  return { total, mean: total / shards.length, max, hotLoad };
}

/** The fewest hex digits whose busiest shard stays under `limit` (null: none up to 6). */
function charsNeeded(rate, cacheSecs, hot, limit) {
  if (hot > 0 && keyLoads(rate, cacheSecs, 0, hot).hotLoad >= limit) return null;
  for (let chars = 0; chars <= 6; chars++) if (keyLoads(rate, cacheSecs, chars, hot).max < limit) return chars;
  return null;
}

const shardsLabel = (chars) => (chars === null ? 'none: the hot key alone is over' : `${int(16 ** chars)} (${chars} hex)`);
for (const hot of HOT > 0 ? [0, HOT] : [0]) {
  p();
  p(hot
    ? `## KeyShard: lookups per second per shard, one hot key carrying ${f1(hot * 100)}% of requests from every isolate (the rest as above); ${int(16 ** CHARS)} shards (${CHARS} hex digits)`
    : `## KeyShard: lookups per second per shard, ${int(KEYS)} keys of equal traffic, each from ${int(KEY_LOCATIONS)} location(s); ${int(16 ** CHARS)} shards (${CHARS} hex digits)`);
  p();
  p(`| requests/s | MESH_KEYS_CACHE_SECONDS | to all shards/s | one object would be at | per shard, mean | busiest shard | ${hot ? 'hot key\'s shard from the hot key | ' : ''}shards that keep the busiest under ${int(LOOKUP_LIMIT)}/s |`);
  p(`| ---: | ---: | ---: | ---: | ---: | ---: | ${hot ? '---: | ' : ''}---: |`);
  for (const rate of RATES) {
    for (const c of CACHES) {
      const l = keyLoads(rate, c, CHARS, hot);
      const over = l.total / LOOKUP_LIMIT;
      p(`| ${int(rate)} | ${c} | ${int(l.total)} | ${over >= 1 ? `${f1(over)}x the limit` : `${f1(over * 100)}%`} | ${f1(l.mean)} | ${f1(l.max)} | ${hot ? `${int(l.hotLoad)} | ` : ''}${shardsLabel(charsNeeded(rate, c, hot, LOOKUP_LIMIT))} |`);
    }
  }
}

// Options for the hot key's lookups: what its shard receives under each.
p();
p(`### The hot key's lookups (${f1(HOT * 100)}% of requests, from all ${int(ISOLATES)} isolates): what its one shard receives`);
p();
p(`| requests/s | hot key/s | cache 0 | isolate cache ${CACHES.filter((c) => c > 0).join(' s / ')} s | per-location cache (Cache API) ${CACHES.filter((c) => c > 0).join(' s / ')} s | read replicas for ${int(LOOKUP_LIMIT)}/s each, cache 0 |`);
p('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const rate of RATES) {
  const r = rate * HOT;
  const at = (holders, c) => r / (1 + (r / holders) * c);
  const iso = CACHES.filter((c) => c > 0).map((c) => int(at(ISOLATES, c))).join(' / ');
  const loc = CACHES.filter((c) => c > 0).map((c) => int(at(LOCATIONS, c))).join(' / ');
  p(`| ${int(rate)} | ${int(r)} | ${int(r)} | ${iso} | ${loc} | ${int(Math.ceil(r / LOOKUP_LIMIT))} |`);
}

// ---------------------------------------------------------------- rate limits
p();
p(`## RateLimitShard: one object per key; every request of a key with a limit takes from its bucket`);
p();
p(`| requests/s | keys | per object, equal traffic | busiest object: the hot key (${f1(HOT * 100)}%) | over ${int(TAKE_LIMIT)}/s? | hot key, refusals kept per isolate for Retry-After (1 s) | hot key, per-location sub-budgets: per object |`);
p('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const rate of RATES) {
  const hotRate = rate * HOT;
  const admitted = Math.min(hotRate, RATE_LIMIT / 60);
  const remembered = Math.min(hotRate, admitted + ISOLATES * (1 - Math.exp(-(hotRate / ISOLATES))));
  p(`| ${int(rate)} | ${int(KEYS)} | ${f1(rate / KEYS)} | ${int(hotRate)} | ${hotRate > TAKE_LIMIT ? `yes, ${f1(hotRate / TAKE_LIMIT)}x` : 'no'} | ${int(remembered)} | ${f1(hotRate / LOCATIONS)} |`);
}
p();
p(`A key's object takes every one of its requests, the refused ones too: the hot key's object is at its rate whatever its limit. Sharding by key cannot split one key. A key's admitted rate is at most its rateLimit / 60 (${f1(RATE_LIMIT / 60)}/s at the largest, ${int(RATE_LIMIT)}/min); the rest is refusals, which need no exact count.`);
p();
p(`Command: node benches/scale/model.mjs ${process.argv.slice(2).join(' ')}`.trim());
