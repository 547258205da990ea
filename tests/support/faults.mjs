// A fault-injecting HTTP proxy on 127.0.0.1 in front of the OpenID Provider.
// Point the client's `issuer` at `proxy.issuer`: discovery is rewritten so that
// every endpoint goes through the proxy (the `iss` inside tokens stays the
// provider's, since tokens pass through untouched). The proxy counts token
// requests by grant type, records every refresh token sent, and can answer the
// next N token requests with a fault instead of forwarding them.
//
//   const proxy = await startFaultProxy({ target: op.issuer });
//   proxy.failNext(2, { status: 503 });                       // two 503s
//   proxy.failNext(1, { status: 429, retryAfter: 1 });        // 429 + Retry-After: 1
//   proxy.failNext(1, 'hang');                                // never answers
//   proxy.failNext(1, 'invalid_grant');                       // 400 invalid_grant
//   proxy.failNext(1, 'slow_down', { grantType: DEVICE });    // 400 slow_down
//   proxy.failNext(1, 'reset');                               // connection dropped
//   proxy.failNext(3, { delayMs: 500 });                      // forwarded late
//   proxy.count('refresh_token'); proxy.refreshTokensSent; proxy.reusedRefreshTokens();

import { createServer } from 'node:http';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MAX_BODY = 256 * 1024;
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host', 'upgrade']);

/**
 * @param {{ target: string, port?: number, deviceInterval?: number }} o
 *   target = the provider's issuer URL; deviceInterval = the `interval` (s) to
 *   put into device authorization responses (oidc-provider sends none, so
 *   clients use RFC 8628's 5 s; tests use 1 s to run faster)
 */
export async function startFaultProxy({ target, port = 0, deviceInterval }) {
  const targetUrl = new URL(target);
  const faults = []; // { fault, grantType?, remaining }
  const hung = new Set();
  /** Every request seen: { at, doneAt, method, path, kind, grantType?, refreshToken?, params? (device authorization), fault?, forwarded?, status? } */
  const requests = [];
  let tokenPath = '/token';
  let closed = false;

  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const url = new URL(req.url, targetUrl);
      const record = { at: Date.now(), method: req.method, path: url.pathname, kind: 'other' };
      const form = /x-www-form-urlencoded/.test(req.headers['content-type'] ?? '') ? new URLSearchParams(body.toString()) : null;
      if (url.pathname === '/.well-known/openid-configuration') record.kind = 'discovery';
      else if (url.pathname === tokenPath && req.method === 'POST') {
        record.kind = 'token';
        record.grantType = form?.get('grant_type') ?? null;
        if (record.grantType === 'refresh_token') record.refreshToken = form.get('refresh_token');
      } else if (/revocation/.test(url.pathname)) {
        record.kind = 'revocation';
        record.token = form?.get('token') ?? null;
      } else if (/\/device\/auth$/.test(url.pathname)) {
        record.kind = 'device_authorization';
        record.params = form ? Object.fromEntries(form) : null; // client_id, scope and extras: no secret
      }
      else if (/jwks/.test(url.pathname)) record.kind = 'jwks';
      requests.push(record);
      res.on('close', () => { record.doneAt = Date.now(); });

      const fault = record.kind === 'token' ? takeFault(record.grantType) : null;
      if (fault) record.fault = describe(fault);
      if (fault && await applyFault(fault, req, res)) return;

      const upstream = await fetch(new URL(url.pathname + url.search, targetUrl), {
        method: req.method,
        headers: forwardHeaders(req.headers),
        body: ['GET', 'HEAD'].includes(req.method) ? undefined : body,
        redirect: 'manual',
      });
      let payload = Buffer.from(await upstream.arrayBuffer());
      record.forwarded = true;
      record.status = upstream.status;
      if (record.kind === 'discovery' && upstream.ok) payload = rewriteDiscovery(payload);
      if (record.kind === 'device_authorization' && upstream.ok && deviceInterval != null) {
        payload = Buffer.from(JSON.stringify({ ...JSON.parse(payload.toString()), interval: deviceInterval }));
      }
      const headers = {};
      upstream.headers.forEach((v, k) => { if (!HOP_HEADERS.has(k)) headers[k] = v; });
      res.writeHead(upstream.status, headers);
      res.end(payload);
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: ${err.message}`);
      } else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const origin = `http://127.0.0.1:${server.address().port}`;

  function rewriteDiscovery(buf) {
    const doc = JSON.parse(buf.toString());
    const from = targetUrl.origin;
    for (const [k, v] of Object.entries(doc)) {
      if (typeof v === 'string' && v.startsWith(from)) doc[k] = origin + v.slice(from.length);
    }
    if (doc.token_endpoint) tokenPath = new URL(doc.token_endpoint).pathname;
    return Buffer.from(JSON.stringify(doc));
  }

  function takeFault(grantType) {
    const i = faults.findIndex((f) => !f.grantType || f.grantType === grantType);
    if (i < 0) return null;
    const f = faults[i];
    if (--f.remaining <= 0) faults.splice(i, 1);
    return f.fault;
  }

  async function applyFault(fault, req, res) {
    const json = (status, obj, extra = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra });
      res.end(JSON.stringify(obj));
      return true;
    };
    if (fault === 'hang') {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return true;
    }
    if (fault === 'reset') {
      req.socket.destroy();
      return true;
    }
    if (fault === 'invalid_grant') return json(400, { error: 'invalid_grant', error_description: 'injected by the fault proxy' });
    if (fault === 'slow_down') return json(400, { error: 'slow_down', error_description: 'injected by the fault proxy' });
    if (fault === 'authorization_pending') return json(400, { error: 'authorization_pending' });
    if (fault.delayMs != null && fault.status == null) {
      await new Promise((r) => setTimeout(r, fault.delayMs));
      return false; // then forward
    }
    if (fault.status) {
      const extra = fault.retryAfter != null ? { 'retry-after': String(fault.retryAfter) } : {};
      const body = fault.body ?? (fault.status === 429 ? { error: 'rate_limited' } : { error: 'server_error' });
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      return json(fault.status, body, extra);
    }
    throw new Error(`unknown fault ${JSON.stringify(fault)}`);
  }

  const tokenRequests = (grantType) => requests.filter((r) => r.kind === 'token' && (!grantType || r.grantType === grantType || shortName(r.grantType) === grantType));

  return {
    issuer: origin,
    origin,
    port: server.address().port,
    requests,
    /** Answer the next `n` token requests (optionally only of one grant type) with `fault`. */
    failNext(n, fault, { grantType } = {}) {
      if (!(n > 0)) throw new Error('failNext: n must be positive');
      faults.push({ fault, grantType, remaining: n });
    },
    /** Drops the faults not yet used. */
    clearFaults() { faults.length = 0; },
    /** Token requests so far, all or of one grant type ('refresh_token', 'device_code' or the full URN). */
    count(grantType) { return tokenRequests(grantType).length; },
    tokenRequests,
    /** How many requests of a kind: 'discovery', 'token', 'revocation', 'device_authorization', 'jwks', 'other'. */
    countKind(kind) { return requests.filter((r) => r.kind === kind).length; },
    /** Refresh tokens the client sent, in order (faulted requests included). */
    get refreshTokensSent() { return tokenRequests('refresh_token').map((r) => r.refreshToken); },
    /**
     * Refresh tokens that reached the provider more than once (should be
     * none: with rotation, the second use is a reuse that kills the grant).
     * Requests the proxy answered itself with a fault never reached it.
     */
    reusedRefreshTokens() {
      const seen = new Map();
      for (const r of tokenRequests('refresh_token').filter((x) => x.forwarded)) seen.set(r.refreshToken, (seen.get(r.refreshToken) ?? 0) + 1);
      return [...seen].filter(([, n]) => n > 1).map(([t]) => t);
    },
    /** Resolves when `predicate()` holds, polling every 20 ms, at most `timeoutMs`. */
    async waitFor(predicate, { timeoutMs = 10000, what = 'condition' } = {}) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if (predicate()) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`fault proxy: timed out waiting for ${what}`);
    },
    reset() { requests.length = 0; faults.length = 0; },
    async close() {
      if (closed) return;
      closed = true;
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

function shortName(grantType) {
  return grantType === DEVICE_GRANT ? 'device_code' : grantType;
}

function describe(fault) {
  return typeof fault === 'string' ? fault : JSON.stringify(fault);
}

function forwardHeaders(h) {
  const out = {};
  for (const [k, v] of Object.entries(h)) {
    if (!HOP_HEADERS.has(k) && v != null) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
