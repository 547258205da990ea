// What the mesh-sdk/next tests share: the provider with an app client, a
// browser's cookie jar driving the handlers with real `Request`s, the
// provider's login pages, a count of the token endpoint's grants, and a
// real redis-server on a free port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { startProvider } from '../../scripts/servers/provider.mjs';
import { freePort, sleep } from '../support/http.mjs';
import { providerLogin as providerSignIn } from '../support/provider-login.mjs';
import { killGroup, live } from '../support/process-group.mjs';

export const BASE = 'http://localhost:3000';
/** An app on https (the handlers read the Cookie header only, so no TLS is needed): `__Host-` cookies. */
export const HTTPS_BASE = 'https://app.example.test';
export const SECRET = 'a-test-secret-of-enough-length-0123456789';
export const APP_ID = 'mesh-next';
export const APP_SECRET = 'mesh-next-test-secret-0123456789';

export const APP_CLIENT = {
  client_id: APP_ID,
  client_secret: APP_SECRET,
  client_name: 'Mesh Next.js app',
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
  redirect_uris: [`${BASE}/auth/callback`, `${HTTPS_BASE}/auth/callback`],
  post_logout_redirect_uris: [`${BASE}/`, `${BASE}/bye`, `${HTTPS_BASE}/`],
  scope: 'openid profile offline_access',
};

/** The provider, with a count of its token grants by type and of its refused grants. */
export async function startIdp(options = {}) {
  const idp = await startProvider({ extraClients: [APP_CLIENT], idTokenClaims: true, ...options });
  const grants = { refresh_token: 0, authorization_code: 0, errors: [] };
  idp.provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params.grant_type;
    grants[type] = (grants[type] ?? 0) + 1;
  });
  idp.provider.on('grant.error', (ctx, error) => grants.errors.push(`${ctx.oidc.params?.grant_type}: ${error.message}`));
  return { idp, grants };
}

/** The options of the app's createMeshAuth. */
export const appOptions = (idp, more = {}) => ({
  issuer: idp.issuer,
  clientId: APP_ID,
  clientSecret: APP_SECRET,
  audience: idp.audience,
  baseUrl: BASE,
  secret: SECRET,
  scope: 'openid profile offline_access',
  prompt: 'consent',
  ...more,
});

/** A browser's cookies for `base` (BASE), applied from each response. */
export class Jar {
  constructor(entries = [], base = BASE) {
    this.cookies = new Map(entries);
    this.base = base;
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  request(path, init = {}) {
    return new Request(new URL(path, this.base), { ...init, headers: { ...(init.headers ?? {}), cookie: this.header() } });
  }
  /** @param {Headers} headers */
  apply(headers) {
    for (const c of headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      // A browser drops a __Host- cookie that is not Secure, host-only and Path=/ (RFC 6265bis 4.1.3.2): here that fails the test.
      if (name.startsWith('__Host-')) assert.ok(/; Secure(;|$)/.test(c) && /; Path=\/(;|$)/.test(c) && !/; Domain=/i.test(c), `a browser refuses ${c}`);
      if (/Max-Age=0(;|$)/.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(i + 1));
    }
  }
  clone() {
    return new Jar(this.cookies, this.base);
  }
  sessionCookies() {
    return [...this.cookies.keys()].filter((k) => k.startsWith('mesh.session'));
  }
}

/** `handlers.GET` as the browser calls it; the jar takes the response's cookies. */
export async function get(mesh, jar, path) {
  const res = await mesh.handlers.GET(jar.request(path));
  jar.apply(res.headers);
  return res;
}

/** `handlers.POST` as the app's own page calls it (its `Origin`, or `origin`); the jar takes the response's cookies. */
export async function post(mesh, jar, path, origin = jar.base) {
  const headers = origin === null ? {} : { origin };
  const res = await mesh.handlers.POST(jar.request(path, { method: 'POST', headers }));
  jar.apply(res.headers);
  return res;
}

/** Signs in at the provider's pages and returns the URL it sends the browser back to (on `base`). */
export const providerLogin = (authorizeUrl, user, base = BASE) => providerSignIn(authorizeUrl, user, `${base}/`);

/** /auth/login → the provider → the callback URL (not yet called). */
export async function startLogin(mesh, jar, idp, returnTo = '/settings', user = idp.users[0]) {
  const res = await get(mesh, jar, `/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
  assert.equal(res.status, 302);
  return providerLogin(res.headers.get('location'), user, jar.base);
}

/** A whole login (as `user`, the first by default); returns the callback's response. */
export async function signIn(mesh, jar, idp, returnTo, user) {
  const callback = await startLogin(mesh, jar, idp, returnTo, user);
  const res = await get(mesh, jar, callback.slice(jar.base.length));
  assert.equal(res.status, 302, await res.clone().text());
  return res;
}

// The cookies' sealing, written out again from the documented format, so
// that a test can forge what an attacker who knew the secret could (and see
// that without it nothing opens).
const subtle = webcrypto.subtle;
async function cookieKey(secret) {
  const raw = await subtle.importKey('raw', new TextEncoder().encode(secret), 'HKDF', false, ['deriveKey']);
  const params = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new TextEncoder().encode('mesh-sdk/next cookie key v1') };
  return subtle.deriveKey(params, raw, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}
export async function openCookie(name, value, secret = SECRET) {
  const bytes = Buffer.from(value, 'base64url');
  const plain = await subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: new TextEncoder().encode(name) }, await cookieKey(secret), bytes.subarray(12));
  return new TextDecoder().decode(plain);
}
export async function sealCookie(name, text, secret = SECRET) {
  const iv = webcrypto.getRandomValues(new Uint8Array(12));
  const ct = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(name) }, await cookieKey(secret), new TextEncoder().encode(text));
  return Buffer.concat([iv, Buffer.from(ct)]).toString('base64url');
}

/**
 * A real redis-server on a free loopback port, nothing persisted; `stop()` ends it by its pid.
 * Ready means this child logged that it accepts connections: a port that merely
 * answers may belong to another suite's server that took it while a test had
 * Redis down, and then this child could not bind and is gone.
 */
export async function startRedis({ port = 0, args = [] } = {}) {
  port ||= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let log = '';
  let ending = false;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    // Said where CI shows it: a server that dies under a test is otherwise
    // only seen as the next test's ECONNREFUSED.
    if (!ending) process.stderr.write(`redis-server on port ${port} exited by itself (${signal ?? code}):\n${log}\n`);
    live.delete(child);
    resolve();
  }));
  const ready = new Promise((resolve) => {
    const read = (chunk) => {
      log = (log + chunk).slice(-4000);
      if (log.includes('Ready to accept connections')) resolve('ready');
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
  });
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, 15_000, 'timeout'); });
  const outcome = await Promise.race([ready, exited.then(() => 'exited'), late]);
  clearTimeout(timer);
  if (outcome !== 'ready') {
    ending = true;
    killGroup(child, 'SIGKILL');
    throw new Error(`redis-server on port ${port} did not start (${outcome}):\n${log}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    /** The process this server (and no other) runs as: to stop it mid-command or kill it. */
    signal(name) {
      ending ||= name === 'SIGKILL' || name === 'SIGTERM';
      child.kill(name);
    },
    async stop() {
      ending = true;
      if (child.exitCode === null && child.signalCode === null) killGroup(child, 'SIGTERM');
      await Promise.race([exited, sleep(3000)]);
    },
  };
}
