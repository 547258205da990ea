// A small origin for the demo and the tests: it stands behind the gateway and
// echoes, as JSON, everything it received (method, path, query, body, every
// header, and the identity the gateway injected). It records each request so a
// test can assert "the origin saw nothing" or "saw exactly this identity".
//
//   import { startOrigin } from './scripts/servers/origin.mjs';
//   const origin = await startOrigin();           // free port on 127.0.0.1
//   origin.requests; origin.clear(); await origin.stop();
//
//   node scripts/servers/origin.mjs --port 9401   (the demo)
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const MAX_BODY = 1024 * 1024;

/** The identity headers the gateway injects (lowercase, as Node reports them). */
export const IDENTITY_HEADERS = ['x-user-id', 'x-auth-method', 'x-api-key-id'];

function identityOf(headers) {
  return {
    userId: headers['x-user-id'] ?? null,
    authMethod: headers['x-auth-method'] ?? null,
    apiKeyId: headers['x-api-key-id'] ?? null,
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function route(record) {
  const { method, path, body, identity } = record;
  if (path === '/health') return { status: 200, json: { ok: true, service: 'mesh-demo-origin' } };
  if (path === '/api/v1/chat') {
    let message = null;
    try { message = JSON.parse(body || '{}').message ?? null; } catch { /* not JSON: echo raw */ message = body || null; }
    return {
      status: 200,
      json: {
        reply: message == null ? `Hello, ${identity.userId ?? 'anonymous'}.` : `You said: ${message}`,
        message,
        userId: identity.userId,
        authMethod: identity.authMethod,
        echo: record,
      },
    };
  }
  // /mcp/messages/, /agent/v1/mcp/messages/ and anything else: a plain echo.
  return { status: method === 'POST' && path.endsWith('/messages/') ? 202 : 200, json: record };
}

/**
 * Starts the origin on 127.0.0.1.
 * @param {{ port?: number, host?: string, log?: boolean }} [options]
 * @returns {Promise<{ url: string, port: number, requests: object[], clear(): void,
 *   stop(): Promise<void> }>}
 */
export async function startOrigin({ port = 0, host = '127.0.0.1', log = false } = {}) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    let body = '';
    try { body = await readBody(req); } catch { res.writeHead(413).end(); return; }
    const url = new URL(req.url, 'http://origin.invalid');
    const rawHeaders = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    const record = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      rawQuery: url.search,
      body,
      headers: { ...req.headers },
      rawHeaders,
      identity: identityOf(req.headers),
      at: Date.now(),
    };
    requests.push(record);
    if (requests.length > 10_000) requests.splice(0, requests.length - 10_000);
    if (log) console.log(`[origin] ${req.method} ${url.pathname} user=${record.identity.userId ?? '-'} via=${record.identity.authMethod ?? '-'}`);
    const { status, json } = route(record);
    const text = JSON.stringify(json);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    requests,
    clear() { requests.length = 0; },
    stop() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 9401);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node scripts/servers/origin.mjs [--port N]');
    process.exit(2);
  }
  try {
    const origin = await startOrigin({ port, log: true });
    console.log(`[origin] listening on ${origin.url}`);
    const shutdown = () => origin.stop().then(() => process.exit(0));
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  } catch (e) {
    if (e.code === 'EADDRINUSE') console.error(`[origin] port ${port} is already in use; pass --port N`);
    else console.error(`[origin] ${e.message}`);
    process.exit(1);
  }
}
