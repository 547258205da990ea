#!/usr/bin/env node
// mesh-auth: sign in from a terminal, with the browser (authorization code +
// PKCE, loopback redirect, RFC 8252) where one can be opened, else with the
// device flow (RFC 8628), and keep the session in ~/.mesh/token.json (mode
// 0600). Which flow: the core's rule (src/client/terminal.rs).
import { existsSync, rmSync } from 'node:fs';
import { browserLogin, openBrowser } from './loopback.js';
import {
  EXIT, UsageError, clientConfig, describeExpiry, parseArgs, readSessionFile, reportError, subjectOf, tokenFilePath, writeSessionFile,
} from './session-file.js';

const USAGE = `Usage: mesh-auth [options]

Signs in and saves the session to ~/.mesh/token.json (mode 0600):
- with a browser: opens it at the provider's sign-in page (the URL is printed
  too) and takes the answer on http://127.0.0.1:<random port>/callback;
- headless (no DISPLAY/WAYLAND_DISPLAY on Linux, SSH, CI, a container, or
  MESH_HEADLESS=true): prints a link and a code to approve on any device.

Options (each falls back to the environment variable shown):
  --issuer URL        OpenID issuer                       MESH_ISSUER
  --client-id ID      OAuth client id                     MESH_CLIENT_ID
  --audience URL      API audience                        MESH_AUDIENCE
  --scope SCOPES      default "openid offline_access"     MESH_SCOPE
  --api-url URL       API base URL, saved for mesh-env    MESH_API_URL
  --token-file PATH   where to save the session           MESH_TOKEN_FILE
  --timeout-ms N      per-request timeout (default 60000)
  --browser           sign in with the browser, even when headless
  --device            sign in with a device code, even with a browser
  --no-open           print the browser URL without opening a browser
  --login-timeout S   how long to wait for the browser (default 900)
  --logout            revoke the saved session at the provider and delete the file
  -h, --help          show this help

Environment: MESH_HEADLESS=true|false overrides the detection;
MESH_EXTENDED_TOKEN_LIFETIME=true|false (default: true when headless) asks for
a long-lived session: offline_access, plus MESH_EXTENDED_TOKEN_SCOPE (scopes)
and MESH_EXTENDED_TOKEN_PARAM (name=value&...) if your provider needs them.

Exit codes: 0 signed in, 1 login failed (denied, expired, network),
2 bad usage or configuration, 130 interrupted.

Example:
  mesh-auth --issuer http://127.0.0.1:9400 --client-id mesh-demo
`;

const SPEC = {
  '--issuer': 'issuer',
  '--client-id': 'clientId',
  '--audience': 'audience',
  '--scope': 'scope',
  '--api-url': 'apiUrl',
  '--token-file': 'tokenFile',
  '--timeout-ms': 'timeoutMs',
  '--logout': { flag: 'logout' },
  '--browser': { flag: 'browser' },
  '--device': { flag: 'device' },
  '--no-open': { flag: 'noOpen' },
  '--login-timeout': 'loginTimeout',
  '-h': { flag: 'help' },
  '--help': { flag: 'help' },
};

async function main(argv) {
  const flags = parseArgs(argv, SPEC);
  if (flags.help) {
    process.stdout.write(USAGE);
    return EXIT.OK;
  }
  const path = tokenFilePath(flags);
  if (flags.logout) return logout(flags, path);
  const config = clientConfig(flags);
  const timeoutMs = positive(flags.timeoutMs, '--timeout-ms');
  const loginTimeout = positive(flags.loginTimeout, '--login-timeout');

  // Load the wasm only once the arguments are known to be good.
  const { MeshClient } = await import('../node.js');
  const { terminalLoginPlan } = await import('../server-wasm.js');
  const plan = terminalLoginPlan({
    platform: process.platform,
    container: existsSync('/.dockerenv') || existsSync('/run/.containerenv') || Boolean(process.env.container),
    browser: Boolean(flags.browser),
    device: Boolean(flags.device),
    scope: config.scope,
    env: process.env,
  });
  const waitMs = loginTimeout ? loginTimeout * 1000 : plan.waitMs;
  const client = new MeshClient({ ...config, scope: plan.scope, storage: 'memory', ...(timeoutMs ? { timeoutMs } : {}) });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    process.stdout.write(`Signing in with the ${plan.flow === 'browser' ? 'browser' : 'device code'} (${plan.reason})${plan.extended ? ', asking for a long-lived session' : ''}.\n`);
    const session = plan.flow === 'browser'
      ? await browserLogin(client, plan, { waitMs, signal: abort.signal, onUrl: (url) => showUrl(url, !flags.noOpen) })
      : await deviceLogin(client, plan, abort.signal);
    writeSessionFile(path, session, config);
    const who = subjectOf(session.accessToken);
    process.stdout.write(
      `Signed in${who ? ` as ${who}` : ''}. Session saved to ${path}\n` +
      `Access token expires ${describeExpiry(session.expiresAt)}; ` +
      `${session.refreshToken ? 'mesh-env refreshes it when needed.' : 'no refresh token was issued (ask for offline_access).'}\n`,
    );
    return EXIT.OK;
  } catch (err) {
    if (abort.signal.aborted) {
      process.stderr.write('mesh-auth: cancelled\n');
      return EXIT.INTERRUPTED;
    }
    if (err?.code === 'access_denied') {
      process.stderr.write('mesh-auth: the sign-in was denied in the browser (access_denied)\n');
      return EXIT.FAILED;
    }
    if (err?.timedOut) {
      process.stderr.write(`mesh-auth: no answer from the browser within ${Math.round(waitMs / 1000)} s; run mesh-auth again, or mesh-auth --device (timeout)\n`);
      return EXIT.FAILED;
    }
    if (err?.code === 'device_code_expired') {
      process.stderr.write('mesh-auth: the code expired before it was approved; run mesh-auth again (device_code_expired)\n');
      return EXIT.FAILED;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    client.dispose();
  }
}

/** A positive integer flag, or undefined. */
function positive(value, name) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new UsageError(`${name} must be a positive integer`);
  return n;
}

/** Prints the authorization URL, and opens the browser there unless --no-open. */
function showUrl(url, open) {
  process.stdout.write(
    `${open ? 'Opening your browser at' : 'Open this URL in your browser:'}\n${url}\n` +
    'Waiting for the browser (Ctrl-C to cancel)...\n',
  );
  if (open) openBrowser(url);
}

/** The device flow (with the plan's extra parameters): prints the link and the code, waits for the approval. */
async function deviceLogin(client, plan, signal) {
  const login = await client.startDeviceLogin({ signal, extraParams: plan.params });
  const minutes = Math.max(1, Math.round(login.expiresIn / 60));
  process.stdout.write(
    `To sign in, open ${login.verificationUri}\n` +
    `and enter the code: ${login.userCode}\n` +
    (login.verificationUriComplete ? `(or open ${login.verificationUriComplete})\n` : '') +
    `Waiting for approval (the code expires in ${minutes} min; Ctrl-C to cancel)...\n`,
  );
  return client.completeDeviceLogin(login, { signal });
}

async function logout(flags, path) {
  const stored = readSessionFile(path);
  if (!stored) {
    process.stdout.write(`Not signed in (no session at ${path}).\n`);
    return EXIT.OK;
  }
  const config = clientConfig(flags, process.env, stored);
  const { MeshClient } = await import('../node.js');
  const client = new MeshClient({ ...config, storage: 'memory' });
  let revoked = true;
  try {
    client.setSession({ accessToken: stored.accessToken, refreshToken: stored.refreshToken, expiresAt: stored.expiresAt });
    await client.logout();
  } catch (err) {
    // The local session goes anyway; say that the provider may still hold it.
    revoked = false;
    process.stderr.write(`mesh-auth: could not revoke at the provider: ${err.message}\n`);
  } finally {
    client.dispose();
  }
  rmSync(path, { force: true });
  process.stdout.write(`Signed out${revoked ? ' (refresh token revoked)' : ''}; deleted ${path}\n`);
  return revoked ? EXIT.OK : EXIT.FAILED;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  async (err) => { process.exitCode = await reportError('mesh-auth', err); },
);
