// Raw HTTP/1.1 requests for the gateway tests. Unlike fetch(), node:http keeps
// header names exactly as written and allows duplicates, so a test can send
// `X-USER-ID` and `x-user-id` in one request, and an unusual path is sent as is.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: false });

/**
 * @param {string} base   e.g. http://127.0.0.1:8787
 * @param {string} path   sent verbatim (no normalisation)
 * @param {{ method?: string, headers?: Array<[string,string]>|Record<string,string>,
 *   body?: string|Buffer|object, timeoutMs?: number }} [o]
 * @returns {Promise<{ status: number, headers: Record<string,string|string[]>,
 *   text: string, json: any }>}
 */
export function request(base, path, { method = 'GET', headers = [], body, timeoutMs = 30_000 } = {}) {
  const url = new URL(base);
  const pairs = Array.isArray(headers) ? [...headers] : Object.entries(headers); // never mutate the caller's list
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!pairs.some(([k]) => k.toLowerCase() === 'content-type')) {
      pairs.push(['content-type', typeof body === 'object' && !Buffer.isBuffer(body) ? 'application/json' : 'text/plain']);
    }
    pairs.push(['content-length', String(Buffer.byteLength(payload))]);
  }
  const flat = [];
  for (const [k, v] of pairs) flat.push(k, String(v));
  flat.push('Host', url.host, 'Connection', 'close');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, method, path, headers: flat, agent,
      // Some tests send a 200 KB header on purpose.
      maxHeaderSize: 1024 * 1024,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (closed again before it
 * is returned). Picked at random below Linux's ephemeral range (32768-60999):
 * a port-0 bind elsewhere (a suite running beside this one, wrangler's own
 * sockets) cannot take it between this probe and the caller's bind, which a
 * caller with a fixed port (a URL already handed out) cannot retry.
 */
export async function freePort() {
  const net = await import('node:net');
  const probe = (port) => new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => { const got = s.address().port; s.close(() => resolve(got)); });
  });
  for (let i = 0; i < 50; i++) {
    const port = await probe(20000 + Math.floor(Math.random() * 12000));
    if (port) return port;
  }
  const port = await probe(0);
  if (!port) throw new Error('no free port on 127.0.0.1');
  return port;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
