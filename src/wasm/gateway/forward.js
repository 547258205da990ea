// The gateway's upstream fetch, in one call from wasm. The Rust side decides
// everything (which names to drop, the identity headers, the URL); this only
// applies it. Done in wasm, the same steps took about a dozen crossings into
// JavaScript (copy, list, delete, set, init, fetch, then), which measured in
// workerd at several times the CPU of the steps themselves.

/**
 * @param {Request} request   the inbound request (headers and body are forwarded)
 * @param {string} url        the upstream URL
 * @param {string} method
 * @param {string[]} drop     lower-case header names to drop
 * @param {string} prefix     drop every header name starting with this too
 * @param {string} identity   "name\nvalue\n..." headers to set (values carry no newline)
 * @param {(request: Request, error: unknown) => Response} failed  the upstream could not be reached
 * @param {string | undefined} origin  a CORS origin to allow on the response
 * @param {(origin: string, response: Response) => Response} withCors
 */
export function forward(request, url, method, drop, prefix, identity, failed, origin, withCors) {
  const headers = new Headers(request.headers);
  // `host` is set by fetch from the upstream URL.
  for (const name of [...headers.keys()]) {
    if (name === 'host' || drop.includes(name) || name.startsWith(prefix)) headers.delete(name);
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
  const onFulfilled = origin === undefined ? undefined : (response) => withCors(origin, response);
  return fetch(url, init).then(onFulfilled, (error) => failed(request, error));
}
