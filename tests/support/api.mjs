// A stand-in API on 127.0.0.1 for the client tests, until the gateway lands:
// /api/v1/chat, /api/v1/keys (list/create/revoke, per user) and /auth/validate.
// It verifies the Bearer JWT with jose against the provider's JWKS (issuer,
// audience, expiry) and answers 401 otherwise, like the gateway will. It
// records every request and the credential it carried.
//
//   const api = await startApi({ issuer: op.issuer, audience: op.audience });
//   api.requests; api.count('/api/v1/chat');
//   api.unauthorizedAs404 = true;          // answer 404 where 401 is due
//   api.failNext(1, 502, { path: '/api/v1/chat' });   // or 'hang', 'reset'
//   api.reject(token);                     // this (valid) token now gets 401

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const MAX_BODY = 64 * 1024;
export const API_KEY_PREFIX = 'mesh_sk_';

/**
 * @param {object} o
 * @param {string} o.issuer    the provider's issuer (the `iss` in its tokens)
 * @param {string} [o.jwksUri] default `${issuer}/jwks`
 * @param {string} o.audience  required `aud`
 * @param {number} [o.port=0]
 */
export async function startApi({ issuer, jwksUri, audience, port = 0 }) {
  const jwks = createRemoteJWKSet(new URL(jwksUri ?? `${issuer}/jwks`));
  const keysByHash = new Map(); // sha256(key) -> record
  const rejected = new Set();
  const hung = new Set();
  const faults = []; // { status, remaining, path?, method? }
  /** { at, method, path, auth: 'bearer'|'api_key'|'none', token?, apiKey?, userId?, status } */
  const requests = [];
  let closed = false;

  const api = {
    url: '',
    port: 0,
    requests,
    /** When true, a failed authentication answers 404 instead of 401 (as some servers do). */
    unauthorizedAs404: false,
    count(path, method) {
      return requests.filter((r) => (!path || r.path === path) && (!method || r.method === method)).length;
    },
    /** Tokens (Bearer) that reached the API, in order. */
    get tokensSeen() { return requests.filter((r) => r.token).map((r) => r.token); },
    /**
     * Answer the next `n` matching requests with `status` (500, 502, 503, 401, ...),
     * or 'hang' (never answer), or 'reset' (drop the connection).
     */
    failNext(n, status, { path, method } = {}) { faults.push({ status, remaining: n, path, method }); },
    /** A token that is otherwise valid gets 401 from now on (as if revoked server-side). */
    reject(token) { rejected.add(token); },
    clearFaults() { faults.length = 0; rejected.clear(); },
    reset() { requests.length = 0; faults.length = 0; rejected.clear(); api.unauthorizedAs404 = false; },
    /** Issues a key for `userId` directly (for API-key mode tests without a JWT). */
    issueKey(userId, name = 'test') { return createKey(userId, name); },
    async close() {
      if (closed) return;
      closed = true;
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };

  function createKey(userId, name) {
    const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const record = { id: randomUUID(), userId, name, prefix: API_KEY_PREFIX, last4: key.slice(-4), createdAt: new Date().toISOString() };
    keysByHash.set(sha256(key), record);
    return { ...publicKey(record), key };
  }

  async function authenticate(req) {
    const header = req.headers.authorization ?? '';
    const apiKey = req.headers['x-api-key'];
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (m && m[1].startsWith(API_KEY_PREFIX)) return keyAuth(m[1]);
    if (m) {
      const token = m[1];
      if (rejected.has(token)) return { auth: 'bearer', token, error: 'invalid_token' };
      try {
        const { payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ['RS256', 'ES256'] });
        if (typeof payload.sub !== 'string' || !payload.sub) return { auth: 'bearer', token, error: 'invalid_token' };
        return { auth: 'bearer', token, userId: payload.sub, claims: payload };
      } catch {
        return { auth: 'bearer', token, error: 'invalid_token' };
      }
    }
    if (apiKey) return keyAuth(apiKey);
    return { auth: 'none', error: 'invalid_request' };
  }

  function keyAuth(key) {
    const record = keysByHash.get(sha256(key));
    return record
      ? { auth: 'api_key', apiKey: key, userId: record.userId, keyId: record.id }
      : { auth: 'api_key', apiKey: key, error: 'invalid_token' };
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const record = {
      at: Date.now(),
      method: req.method,
      path: url.pathname,
      auth: 'none',
      hasAuthorization: req.headers.authorization != null,
      hasApiKeyHeader: req.headers['x-api-key'] != null,
    };
    requests.push(record);
    const send = (status, body, headers = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    try {
      const fault = faults.find((f) => (!f.path || f.path === url.pathname) && (!f.method || f.method === req.method));
      const bodyText = await readBody(req);
      const who = await authenticate(req);
      Object.assign(record, { auth: who.auth, token: who.token, apiKey: who.apiKey, userId: who.userId });
      if (fault) {
        if (--fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
        record.fault = fault.status;
        if (fault.status === 'reset') {
          req.socket.destroy();
          return undefined;
        }
        if (fault.status === 'hang') {
          hung.add(res);
          res.on('close', () => hung.delete(res));
          return undefined;
        }
        return send(fault.status, { error: `injected ${fault.status}` });
      }
      if (who.error) {
        if (api.unauthorizedAs404) return send(404, { error: 'not_found' });
        return send(401, { error: who.error }, { 'www-authenticate': `Bearer error="${who.error}"` });
      }
      const body = bodyText ? safeJson(bodyText) : null;

      if (url.pathname === '/auth/validate' && req.method === 'GET') {
        return send(200, { valid: true, userId: who.userId, authMethod: who.auth === 'api_key' ? 'api_key' : 'jwt', expiresAt: who.claims?.exp });
      }
      if (url.pathname === '/api/v1/chat' && req.method === 'POST') {
        const message = body?.message;
        if (typeof message !== 'string') return send(400, { error: 'invalid_request', message: 'body must be {"message": string}' });
        const sum = /(-?\d+)\s*\+\s*(-?\d+)/.exec(message);
        return send(200, { reply: sum ? `${Number(sum[1]) + Number(sum[2])}` : `You said: ${message}`, userId: who.userId });
      }
      if (url.pathname === '/api/v1/keys') {
        if (who.auth !== 'bearer') return send(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
        if (req.method === 'GET') {
          const keys = [...keysByHash.values()].filter((k) => k.userId === who.userId).map(publicKey);
          return send(200, { keys });
        }
        if (req.method === 'POST') {
          const name = body?.name;
          if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
            return send(400, { error: 'invalid_request', message: 'name must be 1-100 characters' });
          }
          return send(201, createKey(who.userId, name));
        }
      }
      const del = /^\/api\/v1\/keys\/([\w-]+)$/.exec(url.pathname);
      if (del && req.method === 'DELETE') {
        if (who.auth !== 'bearer') return send(401, { error: 'invalid_token' });
        for (const [hash, k] of keysByHash) {
          if (k.id === del[1] && k.userId === who.userId) {
            keysByHash.delete(hash);
            record.status = 204;
            res.writeHead(204).end();
            return undefined;
          }
        }
        return send(404, { error: 'not_found' });
      }
      return send(404, { error: 'not_found' });
    } catch (err) {
      return send(500, { error: 'server_error', message: err.message });
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  api.port = server.address().port;
  api.url = `http://127.0.0.1:${api.port}`;
  return api;
}

function publicKey({ id, name, prefix, last4, createdAt }) {
  return { id, name, prefix, last4, createdAt };
}

function sha256(s) {
  return createHash('sha256').update(s).digest('hex');
}

function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}

async function readBody(req) {
  let body = '';
  for await (const c of req) {
    body += c;
    if (body.length > MAX_BODY) throw new Error('body too large');
  }
  return body;
}
