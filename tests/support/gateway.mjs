// The gateway tests' fixture: the echo origin, a JWKS server with fresh keys,
// and the gateway in real workerd (wrangler dev), all on 127.0.0.1.
//
//   const gw = await startGatewayStack({ vars: { MESH_IDENTITY_SECRET: 's' } });
//   after(() => gw.stop());
//   const r = await gw.call('/api/v1/chat', { token: await gw.token() });
//   assertForwarded(r, { userId: 'user-1', authMethod: 'jwt' });
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startOrigin } from '../../scripts/servers/origin.mjs';
import { request, sleep } from './http.mjs';
import { claims, makeKeys, mint, startJwks } from './tokens.mjs';
import { startWrangler } from './wrangler.mjs';

export const AUDIENCE = 'mesh-api';
export const AUDIENCES = `${AUDIENCE},mesh-api-2`;
/** Header names the gateway must never pass on from a client. */
export const IDENTITY_NAMES = ['x-user-id', 'x-auth-method', 'x-api-key-id'];
export const isIdentityName = (n) => IDENTITY_NAMES.includes(n.toLowerCase()) || n.toLowerCase().startsWith('x-mesh-identity-');

/**
 * @param {object} [o]
 * @param {Record<string,string|undefined> | ((jwks: object) => Record<string,string|undefined>)} [o.vars]
 *   overrides; undefined drops a default (a function gets the JWKS server, for its issuer and URL)
 * @param {boolean} [o.hs256=true]    set MESH_JWT_HS256_SECRET
 * @param {boolean} [o.jwksUrl=true]  set MESH_JWKS_URL (else discovery from the issuer)
 * @param {string} [o.upstream]       MESH_UPSTREAM_URL (default: the origin)
 * @param {object[]} [o.extraKeys]    more key pairs (makeKeyPair) for the JWKS
 * @param {string} [o.config]         wrangler.toml; default $MESH_GATEWAY_CONFIG or
 *   gateway/wrangler.toml (point it at benches/gateway/workers/jose-gateway.toml
 *   to see which tests a plain jose gateway fails)
 */
export async function startGatewayStack(o = {}) {
  const started = [];
  try {
    const keys = await makeKeys();
    const origin = await startOrigin();
    started.push(() => origin.stop());
    const jwks = await startJwks({ keys: [keys.rs, keys.es, ...(o.extraKeys ?? [])] });
    started.push(() => jwks.stop());
    const identitySecret = randomBytes(32).toString('base64url');
    const vars = {
      MESH_UPSTREAM_URL: o.upstream ?? origin.url,
      MESH_JWT_ISSUER: jwks.issuer,
      MESH_JWT_AUDIENCE: AUDIENCES,
      MESH_JWKS_URL: o.jwksUrl === false ? undefined : jwks.url,
      MESH_JWT_HS256_SECRET: o.hs256 === false ? undefined : keys.hsSecret,
      ...(typeof o.vars === 'function' ? o.vars(jwks) : o.vars),
    };
    const gateway = await startWrangler({ vars, echo: process.env.MESH_TEST_ECHO ? '[gateway] ' : false, config: o.config ?? process.env.MESH_GATEWAY_CONFIG });
    started.push(() => gateway.stop());
    const ctx = { issuer: jwks.issuer, audience: AUDIENCE };
    const stack = {
      keys, origin, jwks, gateway, vars, identitySecret: vars.MESH_IDENTITY_SECRET,
      url: gateway.url,
      ctx,
      claims: (over) => claims(ctx, over),
      /** A valid token: RS256 by default; `key` may be keys.es or keys.hsSecret. */
      token: ({ key = keys.rs, header, payload, ...over } = {}) => mint({ key, header, payload: payload ?? claims(ctx, over) }),
      /**
       * Sends one request and returns the response plus what the origin saw
       * for it (`seen`) and the gateway's JSON log lines it produced (`logLines`,
       * read after a short wait for the pipe).
       */
      async call(path, { token, scheme = 'Bearer', headers = [], method = 'GET', body, waitLogs = false } = {}) {
        origin.clear();
        const before = gateway.jsonLogs().length;
        const h = [...(Array.isArray(headers) ? headers : Object.entries(headers))];
        if (token !== undefined) h.unshift(['Authorization', `${scheme} ${token}`]);
        const res = await request(gateway.url, path, { method, headers: h, body });
        let logLines = gateway.jsonLogs().slice(before);
        if (waitLogs) {
          for (let i = 0; i < 40 && logLines.length === 0; i++) { await sleep(50); logLines = gateway.jsonLogs().slice(before); }
        }
        return { ...res, seen: [...origin.requests], logLines };
      },
      async stop() { await stopAll(started); },
    };
    return stack;
  } catch (e) {
    await stopAll(started);
    throw e;
  }
}

async function stopAll(list) {
  for (const f of list.reverse()) { try { await f(); } catch { /* keep stopping the rest */ } }
  list.length = 0;
}

/** 401 with the uniform body and RFC 6750 challenge; the origin saw nothing. */
export function assertRejected(r, code = 'invalid_token', msg = '') {
  const where = `${msg} (got ${r.status} ${r.text.slice(0, 200)})`;
  assert.equal(r.status, 401, `status ${where}`);
  // `code` may list the acceptable codes where the spec leaves the choice open.
  if (Array.isArray(code)) {
    assert.ok(code.includes(r.json?.error), `body ${where}`);
    code = r.json.error;
  }
  assert.deepEqual(r.json, { error: code }, `body ${where}`);
  const challenge = r.headers['www-authenticate'];
  assert.ok(challenge, `WWW-Authenticate present ${where}`);
  assert.match(challenge, /^Bearer(\s|$)/, `challenge scheme ${where}`);
  if (code === 'invalid_token') assert.match(challenge, /error="invalid_token"/, `challenge error ${where}`);
  // No credential at all: RFC 6750 §3.1, no error code in the challenge.
  else if (code === 'invalid_request') assert.doesNotMatch(challenge, /error=/, `challenge without an error code ${where}`);
  else if (/error=/.test(challenge)) assert.match(challenge, new RegExp(`error="${code}"`), `challenge error ${where}`);
  assert.equal(r.seen.length, 0, `the origin saw nothing ${where}`);
}

/**
 * 2xx from the origin, which saw exactly one request carrying exactly this
 * identity: each identity header once, with the gateway's value, and no
 * client-sent x-mesh-identity-* header.
 */
export function assertForwarded(r, { userId, authMethod, apiKeyId = null }, msg = '') {
  const where = `${msg} (got ${r.status} ${r.text.slice(0, 300)})`;
  assert.ok(r.status >= 200 && r.status < 300, `status ${where}`);
  assert.equal(r.seen.length, 1, `the origin saw one request ${where}`);
  const seen = r.seen[0];
  const names = seen.rawHeaders.map(([k]) => k.toLowerCase());
  const count = (n) => names.filter((x) => x === n).length;
  assert.equal(count('x-user-id'), 1, `one x-user-id ${where}`);
  assert.equal(count('x-auth-method'), 1, `one x-auth-method ${where}`);
  assert.equal(seen.identity.userId, userId, `x-user-id ${where}`);
  assert.equal(seen.identity.authMethod, authMethod, `x-auth-method ${where}`);
  if (apiKeyId === null) assert.equal(count('x-api-key-id'), 0, `no x-api-key-id ${where}`);
  else { assert.equal(count('x-api-key-id'), 1, `one x-api-key-id ${where}`); assert.equal(seen.identity.apiKeyId, apiKeyId, `x-api-key-id ${where}`); }
  for (const n of names.filter((x) => x.startsWith('x-mesh-identity-'))) {
    assert.ok(['x-mesh-identity-headers', 'x-mesh-identity-timestamp', 'x-mesh-identity-signature'].includes(n), `unexpected ${n} ${where}`);
    assert.equal(count(n), 1, `one ${n} ${where}`);
  }
  return seen;
}

/** Asserts a JSON log line with a reason code came out of the gateway for this request. */
export function assertReasonLogged(r, msg = '') {
  const line = r.logLines.find((l) => Object.entries(l).some(([k, v]) => /reason|code/i.test(k) && typeof v === 'string' && v.length > 0));
  assert.ok(line, `a structured log line with a reason code ${msg}; got ${JSON.stringify(r.logLines).slice(0, 500)}`);
  return line;
}

/** No secret string (token, key, HMAC secret) appears anywhere in the gateway's output. */
export function assertNotLogged(logs, secrets, msg = '') {
  // wrangler's own request lines ("[wrangler:info] GET /path?query 200 OK")
  // show the path and query only; tests that put a token in a query string
  // check those separately.
  const text = logs.split('\n').filter((l) => !/^\[wrangler:info\] [A-Z]+ \//.test(l)).join('\n');
  for (const s of secrets) {
    if (!s || s.length < 16) continue; // a forged '..' is no secret
    assert.ok(!text.includes(s), `${msg}: a secret (${s.slice(0, 12)}...) appears in the gateway's log`);
    // The signature part alone is as good as the token for some attacks.
    const sig = s.split('.')[2];
    if (sig && sig.length > 20) assert.ok(!text.includes(sig), `${msg}: a token signature appears in the log`);
  }
}
