// API keys on several gateway instances (tests/support/edge.mjs) for the
// Durable Object stores' tests: an echo origin, HS256 user tokens (no JWKS
// server needed), and calls to one instance by index.
//
//   const s = await startKeysEdge({ vars: { MESH_KEYS_STORE: 'do' } });
//   const key = await s.createKey(0, await s.token('alice'), { name: 'ci' });
//   await s.call(1, '/agent/v1/x', { token: key.key });
import { randomBytes } from 'node:crypto';
import { startOrigin } from '../../scripts/servers/origin.mjs';
import { startEdge } from './edge.mjs';
import { request } from './http.mjs';
import { claims, mint, now } from './tokens.mjs';

export const AGENT = '/agent/v1/mcp/messages/';
const CTX = { issuer: 'https://issuer.mesh.invalid', audience: 'mesh-api' };

/** The variables every instance shares, and a token maker for them. */
export function userTokens(originUrl) {
  const secret = randomBytes(32).toString('base64url');
  const vars = { MESH_UPSTREAM_URL: originUrl, MESH_JWT_ISSUER: CTX.issuer, MESH_JWT_AUDIENCE: CTX.audience, MESH_JWT_HS256_SECRET: secret };
  const token = (sub) => mint({ key: secret, payload: claims(CTX, { sub, exp: now() + 3600 }) });
  return { vars, token };
}

/** One request to `base`; `token` goes in `Authorization: Bearer`. */
export function callAt(base, path, { token, method = 'GET', body } = {}) {
  return request(base, path, { method, body, headers: token ? [['Authorization', `Bearer ${token}`]] : [] });
}

/**
 * @param {{ instances?: number, vars?: Record<string,string>, varsPer?: Record<string,string>[] }} [o]
 */
export async function startKeysEdge(o = {}) {
  const origin = await startOrigin();
  const users = userTokens(origin.url);
  let edge;
  try {
    // One KV for all instances (sharedPersist), as Workers KV is one store.
    edge = await startEdge({ instances: o.instances ?? 3, vars: { ...users.vars, ...o.vars }, varsPer: o.varsPer, sharedPersist: true, echo: process.env.MESH_TEST_ECHO ? true : false });
  } catch (e) {
    await origin.stop();
    throw e;
  }
  const call = (i, path, opts) => callAt(edge.urls[i], path, opts);
  return {
    edge, origin, token: users.token, call,
    /** Creates a key through instance `i`'s keys API: its JSON (with `key`). */
    async createKey(i, token, body) {
      const r = await call(i, '/api/v1/keys', { token, method: 'POST', body });
      if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
      return r.json;
    },
    async stop() { await edge.stop(); await origin.stop(); },
  };
}

/**
 * Calls `path` with `key` on each instance in `loops[i]` parallel loops until
 * `until()` says stop (or `max` requests in all): every call's instance,
 * start and end times (ms) and status.
 */
export async function hammer(s, key, { loops, until, max = 5000, path = AGENT }) {
  const results = [];
  const loop = async (i) => {
    while (!until() && results.length < max) {
      const start = Date.now();
      const r = await s.call(i, path, { token: key });
      results.push({ i, start, end: Date.now(), status: r.status, retryAfter: r.headers['retry-after'] });
    }
  };
  await Promise.all(loops.flatMap((n, i) => Array.from({ length: n }, () => loop(i))));
  return results;
}
