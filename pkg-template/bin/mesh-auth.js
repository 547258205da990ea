#!/usr/bin/env node
// mesh-auth: sign in from a terminal with the OAuth device flow (RFC 8628)
// and keep the session in ~/.mesh/token.json (mode 0600).
import { rmSync } from 'node:fs';
import {
  EXIT, UsageError, clientConfig, describeExpiry, parseArgs, readSessionFile, reportError, subjectOf, tokenFilePath, writeSessionFile,
} from './session-file.js';

const USAGE = `Usage: mesh-auth [options]

Signs in with the device flow: prints a link and a code, waits until you
approve in a browser, then saves the session to ~/.mesh/token.json (mode 0600).

Options (each falls back to the environment variable shown):
  --issuer URL        OpenID issuer                       MESH_ISSUER
  --client-id ID      OAuth client id                     MESH_CLIENT_ID
  --audience URL      API audience                        MESH_AUDIENCE
  --scope SCOPES      default "openid offline_access"     MESH_SCOPE
  --api-url URL       API base URL, saved for mesh-env    MESH_API_URL
  --token-file PATH   where to save the session           MESH_TOKEN_FILE
  --timeout-ms N      per-request timeout (default 60000)
  --logout            revoke the saved session at the provider and delete the file
  -h, --help          show this help

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
  const timeoutMs = flags.timeoutMs === undefined ? undefined : Number(flags.timeoutMs);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new UsageError('--timeout-ms must be a positive integer');
  }

  // Load the wasm only once the arguments are known to be good.
  const { MeshClient } = await import('../node.js');
  const client = new MeshClient({ ...config, storage: 'memory', ...(timeoutMs ? { timeoutMs } : {}) });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    const login = await client.startDeviceLogin({ signal: abort.signal });
    const minutes = Math.max(1, Math.round(login.expiresIn / 60));
    process.stdout.write(
      `To sign in, open ${login.verificationUri}\n` +
      `and enter the code: ${login.userCode}\n` +
      (login.verificationUriComplete ? `(or open ${login.verificationUriComplete})\n` : '') +
      `Waiting for approval (the code expires in ${minutes} min; Ctrl-C to cancel)...\n`,
    );
    const session = await client.completeDeviceLogin(login, { signal: abort.signal });
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
  (err) => { process.exitCode = reportError('mesh-auth', err); },
);
