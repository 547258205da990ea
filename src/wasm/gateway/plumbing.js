// The gateway's per-request JavaScript: the Worker's `fetch`, reading the
// request, and the upstream fetch, each one call between JS and wasm. The
// Rust side decides everything (what the line means, which names to drop, the
// identity headers, the URL); this only reads and applies. Done from wasm,
// the same steps took about twenty crossings into JavaScript, which measured
// in workerd at several times the CPU of the steps themselves.

/**
 * The request as one line for `gateway::request::Inbound::parse`: method,
 * URL, then the headers `authorization`, `x-api-key`, `origin`,
 * `access-control-request-method` (read on OPTIONS only: nothing else uses
 * it) and `cf-connecting-ip`, separated by "\n", "\0" for an absent one (no
 * header value holds a NUL or a newline).
 * @param {Request} request
 */
export function inbound(request) {
  // No named inner functions here or below: bundlers that keep names
  // (wrangler does) wrap each one made per call in a helper call. An
  // unnamed arrow passed as an argument is left alone.
  const h = request.headers;
  const method = request.method;
  const acrm = method === 'OPTIONS' ? h.get('access-control-request-method') ?? '\0' : '\0';
  return `${method}\n${request.url}\n${h.get('authorization') ?? '\0'}\n${h.get('x-api-key') ?? '\0'}\n${
    h.get('origin') ?? '\0'}\n${acrm}\n${h.get('cf-connecting-ip') ?? '\0'}`;
}

/**
 * The upstream fetch, aborted if no response comes within `upstream.timeout`.
 * @param {{ base: string, drop: Set<string>, prefix: string, timeout: number,
 *   failed: (request: Request, error: unknown, timedOut: boolean, origin: string | undefined) => Response,
 *   withCors: (origin: string, response: Response) => Response }} upstream
 *   made once per configuration: MESH_UPSTREAM_URL, the lower-case header
 *   names to drop and the prefix of names to drop too, the wait for the
 *   response in ms, the answer when none comes (told whether the wait ran
 *   out, and the CORS origin), and the CORS wrapper of its response
 * @param {Request} request   the inbound request (headers and body are forwarded)
 * @param {string | number} target  the upstream URL, or where the path and
 *   query start in `request.url` (they run to its end; the URL is `base` +
 *   that). The method is the request's.
 * @param {string | undefined} identity  "name\nvalue\n..." headers to set (values carry no newline)
 * @param {string | undefined} origin  a CORS origin to allow on the response
 */
export function forward(upstream, request, target, identity, origin) {
  const method = request.method;
  const headers = new Headers(request.headers);
  const { drop, prefix } = upstream;
  // The names are the original's (it does not change): iterating the copy
  // while deleting from it needed an array of its names first. A `_` is
  // read as `-` (the rule: headers::stripped_names); only such names pay.
  for (const name of request.headers.keys()) {
    const dashed = name.includes('_') ? name.replaceAll('_', '-') : name;
    if (drop.has(dashed) || dashed.startsWith(prefix)) headers.delete(name);
  }
  if (identity) {
    const pairs = identity.split('\n');
    for (let i = 0; i + 1 < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  }
  const init = { method, headers, redirect: 'manual' };
  if (method !== 'GET' && method !== 'HEAD' && request.body) {
    init.body = request.body;
    init.duplex = 'half'; // Node's fetch needs it for a streamed body; workerd ignores it
  }
  // The bound is on the response's headers, not its body (a stream may run
  // longer): a timer cleared when they arrive, not AbortSignal.timeout,
  // whose abort Node applies to a body still streaming.
  const abort = new AbortController();
  init.signal = abort.signal;
  const pending = fetch(typeof target === 'string' ? target : upstream.base + request.url.slice(target), init);
  const timer = setTimeout(() => abort.abort(), upstream.timeout);
  // Inline arrows rather than bind: a bound function copies its target's
  // name and length (measured per request).
  return pending.then(
    (response) => {
      clearTimeout(timer);
      return origin === undefined ? response : upstream.withCors(origin, response);
    },
    (error) => {
      clearTimeout(timer);
      return upstream.failed(request, error, abort.signal.aborted, origin);
    },
  );
}

/**
 * The Worker's module handler over one `GatewayBinding` (the Rust export):
 * each request is read into one line and handled in one call into wasm.
 * `ctx` (the Worker's execution context) carries `waitUntil`, for work that
 * outlives the response; elsewhere it is `undefined`.
 * @param {{ handle: Function, resume: Function }} binding
 */
export function front(binding) {
  const f = { binding, env: undefined };
  return { fetch: (request, env, ctx) => Promise.resolve(binding.handle(f, request, env, ctx, same(f, env), encode(inbound(request)))) };
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(4096);

/**
 * The line as UTF-8, in a view of a buffer reused across requests (the
 * binding copies it at once; nothing else runs in between). It takes
 * bytes: wasm-bindgen passes a string with a per-character JavaScript loop,
 * which measured in workerd at about 3-4 us for a line with a token, against
 * under 1 us for `encodeInto` plus the glue's copy of the bytes.
 * @param {string} line
 */
function encode(line) {
  // At most 3 bytes per UTF-16 unit: a line never outgrows the buffer.
  if (line.length * 3 > scratch.length) scratch = new Uint8Array(line.length * 3);
  return scratch.subarray(0, encoder.encodeInto(line, scratch).written);
}

/**
 * Whether `env` is the object of the previous call. The binding keeps the
 * configuration of the env it saw last and parses again only for another
 * one. Compared here: asked from wasm, it was a call into JavaScript on
 * every request.
 */
function same(f, env) {
  const same = env === f.env;
  f.env = env;
  return same;
}

/**
 * Continues a request once its token's signature check settles: a second
 * pass with `id`, under which the binding holds the first pass's line, and the
 * verdict (a rejection is `false`).
 * @param {Promise<boolean>} verify  crypto.subtle.verify(...)
 */
export function suspend(verify, f, request, env, ctx, id) {
  return verify.then(
    (ok) => f.binding.resume(f, request, env, ctx, same(f, env), id, ok === true),
    () => f.binding.resume(f, request, env, ctx, same(f, env), id, false),
  );
}
