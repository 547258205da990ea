// Keys and tokens for the gateway tests.
// - Real keys (RS256, ES256, an HS256 secret) made with jose, and a JWKS
//   server on 127.0.0.1 (with a discovery document) that counts its fetches
//   and can fail on demand: outage (500), hang, redirect, oversized, rotation.
// - `mint()` signs well-formed tokens with any header and claims (jose).
// - `forge()` builds tokens by hand, byte for byte, for the attacks jose
//   refuses to produce: alg none, duplicate header members, b64:false,
//   malformed base64 and JSON, HS256 keyed with an RSA public key.
import { constants, createHmac, createSign, randomBytes } from 'node:crypto';
import http from 'node:http';
import { SignJWT, exportJWK, exportSPKI } from 'jose';
import { keyPair } from '../../scripts/servers/provider.mjs';

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const b64json = (obj) => b64url(JSON.stringify(obj));
export const now = () => Math.floor(Date.now() / 1000);

const KEY_TYPES = {
  RS256: ['rsa', { modulusLength: 2048 }],
  RS512: ['rsa', { modulusLength: 2048 }],
  PS256: ['rsa', { modulusLength: 2048 }],
  ES256: ['ec', { namedCurve: 'P-256' }],
  ES384: ['ec', { namedCurve: 'P-384' }],
  EdDSA: ['ed25519'],
};

/** @param {'RS256'|'ES256'|'RS512'|'ES384'|'PS256'|'EdDSA'} alg (EdDSA: Ed25519) */
export async function makeKeyPair(alg, kid = `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`) {
  // Node's own generator, read back from PEM (provider.mjs keyPair says why
  // not jose's generateKeyPair + exportJWK): jose signs with KeyObjects too.
  const { privateKey, publicKey } = keyPair(...KEY_TYPES[alg]);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const spki = await exportSPKI(publicKey);
  return { alg, kid, privateKey, publicKey, jwk, spki };
}

/** RS256 + ES256 key pairs and an HS256 secret. */
export async function makeKeys() {
  const [rs, es] = await Promise.all([makeKeyPair('RS256'), makeKeyPair('ES256')]);
  return { rs, es, hsSecret: randomBytes(32).toString('base64url') };
}

/**
 * A standard set of claims for `sub`, valid now.
 * @param {{ issuer: string, audience: string|string[] }} ctx
 */
export function claims(ctx, over = {}) {
  const t = now();
  return { iss: ctx.issuer, aud: ctx.audience, sub: 'user-1', iat: t, exp: t + 600, jti: randomBytes(8).toString('hex'), ...over };
}

/**
 * Signs a token with jose. `key` is a key pair from makeKeyPair, or a string
 * (HS256 secret). `header` is merged over { alg, kid, typ }. Claims set to
 * undefined are removed.
 */
export async function mint({ key, alg, kid, header = {}, payload }) {
  const isSecret = typeof key === 'string' || Buffer.isBuffer(key);
  alg ??= isSecret ? 'HS256' : key.alg;
  const h = { alg, typ: 'JWT', ...(isSecret ? {} : { kid: kid ?? key.kid }), ...header };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  const p = { ...payload };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  const signingKey = isSecret ? Buffer.from(key) : key.privateKey;
  return new SignJWT(p).setProtectedHeader(h).sign(signingKey, { crit: h.crit ? Object.fromEntries(h.crit.map((c) => [c, true])) : undefined });
}

/** Signs `input` (the "header.payload" string) with Node's crypto, no jose. */
export function signRaw(input, { alg, key }) {
  switch (alg) {
    case 'HS256': return b64url(createHmac('sha256', key).update(input).digest());
    case 'RS256': return b64url(createSign('sha256').update(input).sign(toNodeKey(key)));
    case 'PS256': return b64url(createSign('sha256').update(input).sign({ key: toNodeKey(key), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
    case 'ES256': return b64url(createSign('sha256').update(input).sign({ key: toNodeKey(key), dsaEncoding: 'ieee-p1363' }));
    default: throw new Error(`signRaw: ${alg}`);
  }
}

// A key pair from makeKeyPair holds KeyObjects, which node:crypto signs with.
const toNodeKey = (k) => k.privateKey ?? k;

/**
 * Builds a token by hand. `header` and `payload` are objects (JSON-encoded)
 * or strings (taken as the exact JSON text, so duplicate members survive).
 * `sign`: { alg, key } signs header.payload with node:crypto; `signature`
 * gives the third segment verbatim.
 */
export function forge({ header, payload, sign, signature = '', encode = true }) {
  const enc = (v) => (encode ? b64url(typeof v === 'string' ? v : JSON.stringify(v)) : v);
  const input = `${enc(header)}.${enc(payload)}`;
  return `${input}.${sign ? signRaw(input, sign) : signature}`;
}

/**
 * A JWKS server (and OIDC discovery document) on 127.0.0.1.
 * mode: 'ok' | 'error' (500) | 'hang' (never answers) | 'redirect' (302 to
 * `redirectTo`) | 'huge' (a 2 MB key set) | 'garbage' (not JSON).
 */
export async function startJwks({ keys = [], issuer: issuerOverride } = {}) {
  let jwks = { keys: keys.map((k) => k.jwk ?? k) };
  let mode = 'ok';
  let redirectTo = null;
  const fetches = [];
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/.well-known/openid-configuration') {
      const base = `http://127.0.0.1:${server.address().port}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: issuerOverride ?? base, jwks_uri: `${base}/jwks` }));
      return;
    }
    if (url.pathname !== '/jwks') { res.writeHead(404).end(); return; }
    fetches.push({ at: Date.now(), mode, headers: req.headers });
    switch (mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(jwks));
        return;
      case 'error':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('outage');
        return;
      case 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      case 'redirect':
        res.writeHead(302, { location: redirectTo }).end();
        return;
      case 'huge': {
        const filler = { kty: 'oct', kid: 'x', k: 'A'.repeat(2 * 1024 * 1024) };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [...jwks.keys, filler] }));
        return;
      }
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [');
        return;
      default:
        res.writeHead(500).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: `${base}/jwks`,
    issuer: issuerOverride ?? base,
    base,
    fetches,
    get count() { return fetches.length; },
    get lastFetchAt() { return fetches.at(-1)?.at ?? 0; },
    setMode(m, { location } = {}) { mode = m; redirectTo = location ?? null; if (m !== 'hang') for (const r of hanging) r.destroy(); },
    setKeys(list) { jwks = { keys: list.map((k) => k.jwk ?? k) }; },
    stop() {
      for (const r of hanging) r.destroy();
      return new Promise((r) => { server.close(() => r()); server.closeAllConnections?.(); });
    },
  };
}

/** A server that must never be contacted (attacker-controlled URLs in jku/x5u). */
export async function startTrap() {
  const hits = [];
  const server = http.createServer((req, res) => { hits.push({ url: req.url, at: Date.now() }); res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}'); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base, hits, setBody(b) { server.removeAllListeners('request'); server.on('request', (req, res) => { hits.push({ url: req.url }); res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(b)); }); },
    stop: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections?.(); }),
  };
}
