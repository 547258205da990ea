#!/usr/bin/env node
// A real OpenID Provider (oidc-provider 9.x) on 127.0.0.1, for the tests and
// the local demo. It is the certified library itself, configured for what the
// SDK needs:
// - the device authorization grant (RFC 8628) with its own code pages;
// - refresh tokens that rotate on every use; reusing a spent one is detected
//   by oidc-provider, which revokes the whole grant (invalid_grant);
// - short-lived access tokens as RS256 JWTs whose `aud` is the API's
//   audience (resource indicators), verifiable against /jwks;
// - token revocation;
// - a public native client `mesh-demo` and two demo users with passwords; it
//   signs in with the device code, and with the authorization code and PKCE
//   at mesh-auth's loopback redirect (any port on 127.0.0.1) and `redirectUris`
//   (the web app's "Sign in"), and RP-initiated logout returns to its
//   `postLogoutRedirectUris`;
// - a confidential client `mesh-edge` (client_secret_basic) with the
//   client-credentials grant (RFC 6749 §4.4), for the gateway's service
//   token, its tokens living `clientCredentialsTtl` seconds.
// The login and consent pages below are plain HTML forms: tests and the
// browser e2e drive them exactly as a person would.
//
//   import { startProvider } from './scripts/servers/provider.mjs';
//   const op = await startProvider({ accessTokenTtl: 20 });
//   ... op.issuer ... await op.close();
//
//   node scripts/servers/provider.mjs --port 9400 [--audience URL] [--access-token-ttl S] [--client-credentials-ttl S]

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import Provider, { errors } from './oidc-provider.mjs';

export const DEMO_CLIENT_ID = 'mesh-demo';
/** mesh-auth's browser login returns here, on whatever port it listens (RFC 8252 §7.3). */
export const CLI_LOOPBACK_REDIRECT = 'http://127.0.0.1/callback';
/** The confidential client of the client-credentials grant, and its (test-only) secret. */
export const SERVICE_CLIENT_ID = 'mesh-edge';
export const SERVICE_CLIENT_SECRET = 'mesh-edge-test-secret-0123456789abcdef';
export const DEFAULT_AUDIENCE = 'http://127.0.0.1:8787';
export const USERS = Object.freeze([
  Object.freeze({ id: 'user-demo-1', login: 'demo', password: 'demo', name: 'Demo User' }),
  Object.freeze({ id: 'user-demo-2', login: 'demo2', password: 'demo2', name: 'Second Demo User' }),
]);

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Starts the provider. Every option has a default that suits a test.
 * @param {object} [o]
 * @param {number} [o.port=0]             0 = a free ephemeral port
 * @param {string} [o.host='127.0.0.1']
 * @param {number} [o.accessTokenTtl=20]  seconds
 * @param {number} [o.clientCredentialsTtl]  seconds of client-credentials tokens (default: accessTokenTtl)
 * @param {string} [o.serviceClientSecret]  the `mesh-edge` client's secret (default SERVICE_CLIENT_SECRET)
 * @param {number} [o.refreshTokenTtl=86400]
 * @param {number} [o.deviceCodeTtl=600]
 * @param {string|string[]} [o.audience]  accepted resource indicators; the first is the default `aud`
 * @param {string} [o.scope='api']        scope of the resource server (in the access token)
 * @param {boolean} [o.rotateRefreshTokens=true]
 * @param {Array} [o.extraClients]        more oidc-provider client metadata
 * @param {boolean} [o.idTokenClaims]     put scope-granted claims (`name`) in the ID token
 * @param {string[]} [o.redirectUris]     the demo client's redirect URIs beside mesh-auth's loopback
 * @param {string[]} [o.postLogoutRedirectUris]  where the demo client's RP-initiated logout may return
 * @param {(origin: string) => boolean} [o.corsOrigin]  default: loopback origins
 * @param {boolean} [o.quiet=true]        silence oidc-provider's development notices
 * @returns {Promise<{issuer: string, port: number, url: (path: string) => string,
 *   audience: string, clientId: string, users: typeof USERS, jwks: object,
 *   provider: Provider, server: import('node:http').Server, close: () => Promise<void>}>}
 */
export async function startProvider(o = {}) {
  const {
    port = 0,
    host = '127.0.0.1',
    accessTokenTtl = 20,
    clientCredentialsTtl = accessTokenTtl,
    serviceClientSecret = SERVICE_CLIENT_SECRET,
    refreshTokenTtl = 24 * 3600,
    deviceCodeTtl = 600,
    scope = 'api',
    rotateRefreshTokens = true,
    extraClients = [],
    corsOrigin = isLoopbackOrigin,
    quiet = true,
    // Redirect-login tests read `name` from the ID token: oidc-provider puts
    // scope-granted claims there only when asked to (default: userinfo only).
    idTokenClaims = false,
    redirectUris = [],
    postLogoutRedirectUris = [],
  } = o;
  const audiences = [o.audience ?? DEFAULT_AUDIENCE].flat();
  const restoreConsole = quiet ? silenceNotices() : () => {};

  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actualPort = server.address().port;
  const issuer = `http://${host}:${actualPort}`;

  const { privateKey } = keyPair('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `mesh-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_name: 'Mesh demo',
        token_endpoint_auth_method: 'none',
        // Native (RFC 8252): mesh-auth's loopback redirect, registered without
        // a port, matches http://127.0.0.1:<any port>/callback (oidc-provider
        // ignores a loopback redirect URI's port for native clients only).
        application_type: 'native',
        grant_types: [DEVICE_GRANT, 'refresh_token', 'authorization_code'],
        response_types: ['code'],
        redirect_uris: [CLI_LOOPBACK_REDIRECT, ...redirectUris],
        post_logout_redirect_uris: postLogoutRedirectUris,
        scope: 'openid profile offline_access',
      },
      {
        client_id: SERVICE_CLIENT_ID,
        client_secret: serviceClientSecret,
        client_name: 'Mesh edge gateway',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope,
      },
      ...extraClients,
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    findAccount: (ctx, id) => {
      const user = USERS.find((u) => u.id === id);
      return user && { accountId: user.id, claims: () => ({ sub: user.id, name: user.name }) };
    },
    claims: { openid: ['sub'], profile: ['name'] },
    scopes: ['openid', 'offline_access', ...scope.split(' ')],
    ttl: {
      AccessToken: accessTokenTtl,
      IdToken: accessTokenTtl,
      RefreshToken: refreshTokenTtl,
      DeviceCode: deviceCodeTtl,
      Grant: refreshTokenTtl,
      Interaction: 600,
      Session: 3600,
      ClientCredentials: clientCredentialsTtl,
    },
    rotateRefreshToken: rotateRefreshTokens,
    conformIdTokenClaims: !idTokenClaims,
    // Device login asks for offline_access; that alone earns a refresh token.
    // oidc-provider drops offline_access from a code login without
    // prompt=consent (OIDC Core 11); a browser app still gets a rotating
    // refresh token, as SPAs do from Auth0 or Okta.
    issueRefreshToken: (ctx, client, source) => client.grantTypeAllowed('refresh_token')
      && (source.scopes.has('offline_access') || source.kind === 'AuthorizationCode'),
    clientBasedCORS: (ctx, origin) => corsOrigin(origin),
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true, userCodeInputSource, userCodeConfirmSource, successSource },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audiences[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator, client) => {
          if (!audiences.includes(indicator)) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return {
            scope,
            audience: indicator,
            accessTokenTTL: client?.clientId === SERVICE_CLIENT_ID ? clientCredentialsTtl : accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>Something went wrong</h1><p role="alert">${esc(out.error)}: ${esc(out.error_description ?? '')}</p>`);
    },
  });
  provider.proxy = false;
  // A bug in this configuration shows up as a 500; say why on stderr.
  provider.on('server_error', (ctx, err) => console.error(`provider.mjs: server_error on ${ctx.method} ${ctx.path}:`, err));

  const callback = provider.callback();
  server.on('request', (req, res) => {
    interactions(provider, req, res).then((handled) => {
      if (!handled) callback(req, res);
    }).catch((err) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page('Error', `<h1>Error</h1><p role="alert">${esc(err.message)}</p>`));
      } else res.destroy();
    });
  });

  let closed = false;
  return {
    issuer,
    port: actualPort,
    url: (path) => new URL(path, issuer).href,
    audience: audiences[0],
    clientId: DEMO_CLIENT_ID,
    serviceClient: { id: SERVICE_CLIENT_ID, secret: serviceClientSecret },
    users: USERS,
    jwks: { keys: [publicJwk(signingKey)] },
    provider,
    server,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      restoreConsole();
    },
  };
}

function publicJwk({ kty, n, e, kid, alg, use }) {
  return { kty, n, e, kid, alg, use };
}

function isLoopbackOrigin(origin) {
  try {
    const { hostname, protocol } = new URL(origin);
    return (protocol === 'http:' || protocol === 'https:')
      && (hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]');
  } catch {
    return false;
  }
}

// oidc-provider prints development notices ("quick start development-only
// in-memory adapter", "default ... function called") on every start; a test
// log full of them hides real failures.
let silenced = 0;
let originalWarn;
let originalInfo;
function silenceNotices() {
  if (silenced++ === 0) {
    originalWarn = console.warn;
    originalInfo = console.info;
    const filter = (orig) => (...args) => {
      const text = args.map(String).join(' ');
      if (/oidc-provider|NOTICE|in-memory adapter|development-only|you SHOULD|you MUST|WARNING: configuration/i.test(text)) return;
      orig.apply(console, args);
    };
    console.warn = filter(originalWarn);
    console.info = filter(originalInfo);
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--silenced === 0) {
      console.warn = originalWarn;
      console.info = originalInfo;
    }
  };
}

// ---------------------------------------------------------------------------
// Interaction pages: login (with a password) and consent. Plain forms, no
// script, no external assets.

async function interactions(provider, req, res) {
  const url = new URL(req.url, 'http://x');
  const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(url.pathname);
  if (!m) return false;
  const [, uid, action] = m;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session } = details;
  const client = await provider.Client.find(params.client_id);
  const clientName = client?.clientName ?? params.client_id;
  // Chromium applies form-action to the redirects after a submit: a code
  // login's forms end at the client's redirect_uri (registered, checked by
  // oidc-provider before any interaction).
  const formTargets = typeof params.redirect_uri === 'string' ? [new URL(params.redirect_uri).origin] : [];

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return html(res, 200, loginPage(uid, clientName), formTargets);
    if (prompt.name === 'consent') return html(res, 200, consentPage(uid, clientName, details), formTargets);
    return html(res, 400, page('Error', `<p role="alert">Unsupported prompt ${esc(prompt.name)}</p>`));
  }
  if (req.method !== 'POST' || !action) return html(res, 405, page('Error', '<p role="alert">Method not allowed</p>'));
  const form = await readForm(req);

  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return true;
  }
  if (action === 'login') {
    if (prompt.name !== 'login') return html(res, 400, page('Error', '<p role="alert">Not a login step</p>'));
    const user = USERS.find((u) => u.login === form.get('login') && u.password === form.get('password'));
    if (!user) return html(res, 200, loginPage(uid, clientName, 'Wrong login or password.', form.get('login') ?? ''), formTargets);
    await provider.interactionFinished(req, res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
    return true;
  }
  // action === 'confirm': the consent.
  if (prompt.name !== 'consent') return html(res, 400, page('Error', '<p role="alert">Not a consent step</p>'));
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  return true;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function html(res, status, body, formTargets = []) {
  const targets = formTargets.filter((o) => /^https?:\/\/[\w.:[\]-]+$/.test(o)).map((o) => ` ${o}`).join('');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${targets}`,
  });
  res.end(body);
  return true;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const STYLE = `
*{box-sizing:border-box}body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:24rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.5rem;margin:0 0 1rem}p{line-height:1.5}label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;font-size:1rem;padding:.6rem;border:1px solid #aab;border-radius:4px}
button{font-size:1rem;padding:.6rem 1rem;border-radius:4px;border:1px solid #2450b2;background:#2f5fd0;color:#fff;cursor:pointer;margin-top:1rem}
button.secondary{background:#fff;color:#2f5fd0}button:focus-visible,input:focus-visible{outline:3px solid #f2a900;outline-offset:2px}
.row{display:flex;gap:.5rem;flex-wrap:wrap}.error{color:#b00020;font-weight:600}code.user-code{font-size:1.6rem;letter-spacing:.1em}ul{padding-left:1.2rem;line-height:1.6}li code{color:#555;font-size:.85em}
`;

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

function loginPage(uid, clientName, error, login = '') {
  return page('Sign in', `<h1>Sign in</h1><p>to continue to <strong>${esc(clientName)}</strong></p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label for="login">Login</label><input id="login" type="text" name="login" value="${esc(login)}" required ${login ? '' : 'autofocus'}>
<label for="password">Password</label><input id="password" type="password" name="password" required ${login ? 'autofocus' : ''}>
<button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" class="secondary">Cancel</button></form>`);
}

const SCOPE_TEXT = {
  openid: 'Know who you are',
  offline_access: 'Keep you signed in (refresh tokens)',
  profile: 'See your name',
  api: 'Call the API on your behalf',
};

function consentPage(uid, clientName, details) {
  const scopes = [...new Set([
    ...(details.prompt.details.missingOIDCScope ?? []),
    ...Object.values(details.prompt.details.missingResourceScopes ?? {}).flat(),
  ])];
  const items = scopes.map((s) => `<li>${esc(SCOPE_TEXT[s] ?? 'Access')} <code>${esc(s)}</code></li>`).join('');
  return page('Authorize', `<h1>Authorize ${esc(clientName)}</h1>
<p><strong>${esc(clientName)}</strong> would like to:</p><ul>${items || '<li>Access your account</li>'}</ul>
<div class="row"><form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit" autofocus>Allow</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" class="secondary">Deny</button></form></div>`);
}

// The device flow's own pages, with the forms oidc-provider hands in.
async function userCodeInputSource(ctx, form, out, err) {
  let msg = '<p>Enter the code shown on your device.</p>';
  if (err && (err.userCode || err.name === 'NoCodeError')) msg = '<p class="error" role="alert">The code you entered is incorrect. Try again.</p>';
  else if (err && err.name === 'AbortedError') msg = '<p class="error" role="alert">The sign-in request was cancelled.</p>';
  else if (err) msg = `<p class="error" role="alert">${esc(err.message ?? 'There was an error processing your request.')}</p>`;
  ctx.body = page('Device sign-in', `<h1>Device sign-in</h1>${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
}

async function userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
  ctx.body = page('Confirm device', `<h1>Confirm device</h1>
<p><strong>${esc(client.clientName ?? client.clientId)}</strong> wants to sign in. Check that your device shows this code:</p>
<p><code class="user-code">${esc(userCode)}</code></p>
${form}
<div class="row"><button type="submit" form="op.deviceConfirmForm" autofocus>Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Abort</button></div>`);
}

// RP-initiated logout's pages (oidc-provider's own load web fonts).
async function logoutSource(ctx, form) {
  ctx.body = page('Sign out', `<h1>Sign out</h1><p>Sign out of <strong>${esc(ctx.host)}</strong> too?</p>${form}
<div class="row"><button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button></div>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Signed out', '<h1>Signed out</h1><p role="status">You are signed out. You can close this page.</p>');
}

async function successSource(ctx) {
  ctx.body = page('Signed in', '<h1>Sign-in success</h1><p role="status">Your device is signed in. You can close this page.</p>');
}

// ---------------------------------------------------------------------------
// Standalone: node scripts/servers/provider.mjs --port 9400

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--port': opts.port = Number(value()); break;
      case '--host': opts.host = value(); break;
      case '--audience': opts.audience = value().split(','); break;
      case '--access-token-ttl': opts.accessTokenTtl = Number(value()); break;
      case '--client-credentials-ttl': opts.clientCredentialsTtl = Number(value()); break;
      case '--refresh-token-ttl': opts.refreshTokenTtl = Number(value()); break;
      case '--device-code-ttl': opts.deviceCodeTtl = Number(value()); break;
      case '-h': case '--help':
        console.log('usage: provider.mjs [--port 9400] [--host 127.0.0.1] [--audience URL[,URL]] [--access-token-ttl S] [--client-credentials-ttl S] [--refresh-token-ttl S] [--device-code-ttl S]');
        process.exit(0);
        break;
      default:
        console.error(`provider.mjs: unknown argument ${argv[i]}`);
        process.exit(2);
    }
  }
  for (const k of ['port', 'accessTokenTtl', 'clientCredentialsTtl', 'refreshTokenTtl', 'deviceCodeTtl']) {
    if (k in opts && !(Number.isInteger(opts[k]) && opts[k] >= 0)) {
      console.error(`provider.mjs: --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a non-negative integer`);
      process.exit(2);
    }
  }
  return opts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const opts = { accessTokenTtl: 60, port: 9400, ...parseArgs(process.argv.slice(2)) };
  let op;
  try {
    op = await startProvider(opts);
  } catch (err) {
    console.error(err.code === 'EADDRINUSE'
      ? `provider.mjs: port ${opts.port} is already in use; pick another with --port`
      : `provider.mjs: ${err.message}`);
    process.exit(1);
  }
  console.log(`OpenID Provider listening on ${op.issuer}`);
  console.log(`  client_id ${op.clientId}, audience ${op.audience}, access tokens live ${opts.accessTokenTtl} s`);
  console.log(`  users: ${USERS.map((u) => `${u.login} / ${u.password} (${u.id})`).join(', ')}`);
  const stop = async () => { await op.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * A key pair as KeyObjects read back from their PEM text. Node 20 can deadlock
 * exporting a freshly generated key as a JWK: a garbage collection during the
 * export may destroy the key-generation job, whose destructor waits on the
 * key's mutex that the export holds (seen in CI: gdb showed ExportJWK -> GC ->
 * ~KeyGenJob -> pthread_mutex_lock, the process idle for good). Keys read from
 * PEM share nothing with that job.
 * @param {'rsa'|'ec'|'ed25519'} type  @param {object} [options] as generateKeyPairSync's
 */
export function keyPair(type, options = {}) {
  const pem = generateKeyPairSync(type, {
    ...options,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey: createPrivateKey(pem.privateKey), publicKey: createPublicKey(pem.publicKey) };
}
