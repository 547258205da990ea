// Starts the whole mesh-sdk stack on 127.0.0.1 for the demo:
//   the OpenID Provider (oidc-provider: code + PKCE and device flow, rotating refresh tokens),
//   the demo origin (echoes the identity it receives),
//   the gateway in workerd (wrangler dev, local KV under .demo-state/),
//   the Next.js app (www/: /login and /settings).
// It prints the URLs and what to try, and stops everything on Ctrl-C.
// Run through scripts/demo.sh (`make demo`), which installs and builds first.
//
// Ports: MESH_DEMO_PROVIDER_PORT (9400), MESH_DEMO_ORIGIN_PORT (9401),
// MESH_DEMO_GATEWAY_PORT (8787), MESH_DEMO_WEB_PORT (3000).
import net from 'node:net';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { startProvider } from './servers/provider.mjs';
import { startOrigin } from './servers/origin.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const host = '127.0.0.1';
const port = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    fail(`${name}=${raw} is not a port number (1-65535)`);
  }
  return n;
};
const ports = {
  provider: port('MESH_DEMO_PROVIDER_PORT', 9400),
  origin: port('MESH_DEMO_ORIGIN_PORT', 9401),
  gateway: port('MESH_DEMO_GATEWAY_PORT', 8787),
  web: port('MESH_DEMO_WEB_PORT', 3000),
};

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

function checkFree(p, what, envName) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be used (${err.code})`;
      fail(`port ${p} for the ${what} ${why}. Stop what holds it, or choose another port: ${envName}=<port> make demo`);
    });
    srv.listen(p, host, () => srv.close(resolve));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => { const { port: p } = srv.address(); srv.close(() => resolve(p)); });
  });
}

const children = [];
function run(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  children.push(child);
  // wrangler offline warns that it cannot fetch `Request.cf` (no network
  // here), with a stack trace each time: noise for a demo.
  const noise = /Request\.cf|ENOTFOUND|getaddrinfo|^\s+at |^\s*$/;
  const prefix = (line) => !noise.test(line) && console.log(`[${name}] ${line}`);
  const pipe = (stream) => {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      if (opts.quiet) return;
      lines.forEach(prefix);
    });
  };
  pipe(child.stdout); pipe(child.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[${name}] exited (${signal ?? code}); stopping the demo`);
      stop(1);
    }
  });
  return child;
}

async function waitFor(url, what, seconds = 90) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status < 500) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 300));
  }
  console.error(`demo: the ${what} did not answer at ${url} within ${seconds} s`);
  stop(1);
}

let stopping = false;
let provider, origin;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
  }
  await Promise.allSettled([provider?.close?.(), origin?.stop?.()]);
  // Give children a moment, then make sure nothing is left behind.
  await new Promise((r) => setTimeout(r, 1500));
  for (const child of children) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  process.exit(code);
}
process.on('SIGINT', () => { console.log('\nstopping…'); stop(0); });
process.on('SIGTERM', () => stop(0));

await checkFree(ports.provider, 'OpenID Provider', 'MESH_DEMO_PROVIDER_PORT');
await checkFree(ports.origin, 'demo origin', 'MESH_DEMO_ORIGIN_PORT');
await checkFree(ports.gateway, 'gateway', 'MESH_DEMO_GATEWAY_PORT');
await checkFree(ports.web, 'web app', 'MESH_DEMO_WEB_PORT');

const issuer = `http://${host}:${ports.provider}`;
const gatewayUrl = `http://${host}:${ports.gateway}`;
const webUrl = `http://${host}:${ports.web}`;

// The web app signs in on its server (mesh-sdk/next): "Sign in" returns to
// /auth/callback, its sign-out through the provider to /login?signedOut=1.
// The app's URL (MESH_APP_URL) is the origin its POSTs must come from, so
// open it as printed (127.0.0.1, not localhost).
provider = await startProvider({
  port: ports.provider,
  audience: gatewayUrl,
  idTokenClaims: true,
  redirectUris: [`${webUrl}/auth/callback`],
  postLogoutRedirectUris: [`${webUrl}/login?signedOut=1`],
});
origin = await startOrigin({ port: ports.origin, log: true });

const stateDir = path.join(root, '.demo-state', 'wrangler');
fs.mkdirSync(stateDir, { recursive: true });
run('gateway', path.join(root, 'node_modules/.bin/wrangler'), [
  'dev', '-c', 'gateway/wrangler.toml', '--ip', host, '--port', String(ports.gateway),
  '--inspector-port', String(await freePort()), '--persist-to', stateDir, '--log-level', 'warn',
  '--var', `MESH_UPSTREAM_URL:http://${host}:${ports.origin}`,
  '--var', `MESH_JWT_ISSUER:${provider.issuer ?? issuer}`,
  '--var', `MESH_JWT_AUDIENCE:${gatewayUrl}`,
  '--var', `MESH_CORS_ORIGINS:${webUrl}`,
], { env: { WRANGLER_SEND_METRICS: 'false' } });

run('web', 'npm', ['--prefix', 'www', 'run', 'start', '--', '-H', host, '-p', String(ports.web)], {
  env: {
    NEXT_PUBLIC_MESH_ISSUER: provider.issuer ?? issuer,
    NEXT_PUBLIC_MESH_CLIENT_ID: 'mesh-demo',
    NEXT_PUBLIC_MESH_AUDIENCE: gatewayUrl,
    NEXT_PUBLIC_MESH_API_URL: gatewayUrl,
    MESH_ISSUER: provider.issuer ?? issuer,
    MESH_CLIENT_ID: 'mesh-demo',
    MESH_AUDIENCE: gatewayUrl,
    MESH_API_URL: gatewayUrl,
    MESH_APP_URL: webUrl,
    // The session cookie's key: `next start` is a production server, which
    // www refuses to run on its development default. A random one per run
    // (sessions end with the demo) unless one is given.
    MESH_SECRET: process.env.MESH_SECRET || randomBytes(32).toString('base64url'),
  },
  quiet: true,
});

await waitFor(`${gatewayUrl}/health`, 'gateway');
await waitFor(`${webUrl}/`, 'web app');

console.log(`
mesh-sdk demo is running (Ctrl-C stops everything):

  web app          ${webUrl}            (/login, /settings)
  gateway          ${gatewayUrl}            (workerd via wrangler dev)
  OpenID Provider  ${provider.issuer ?? issuer}            (user: demo / password: demo)
  demo origin      http://${host}:${ports.origin}            (echoes the identity it receives)

Try this:
  1. Open ${webUrl}/login and press "Sign in": log in as demo/demo on the provider's page and allow.
     Or sign in with a code: press "Use a code", open the link it shows, log in as demo/demo and approve.
  2. Open ${webUrl}/settings and create an API key; copy it (it is shown once).
  3. Call the agent route with it through the gateway; the origin echoes x-user-id:
       curl -s -H "X-API-Key: <key>" ${gatewayUrl}/agent/v1/mcp/messages/
  4. Try to spoof the identity; the gateway strips it:
       curl -s -H "X-API-Key: <key>" -H "x-user-id: admin" ${gatewayUrl}/agent/v1/mcp/messages/
  5. Revoke the key in /settings and repeat step 3: 401.
  6. Terminal login: node pkg/bin/mesh-auth.js --issuer ${provider.issuer ?? issuer} --client-id mesh-demo --audience ${gatewayUrl}
`);
