#!/usr/bin/env node
// mesh-env: write the stored session as a .env file (MESH_ACCESS_TOKEN,
// MESH_REFRESH_TOKEN, MESH_TOKEN_EXPIRES_AT), refreshing it first if needed.
import { existsSync } from 'node:fs';
import {
  EXIT, UsageError, clientConfig, describeExpiry, parseArgs, readSessionFile, reportError, subjectOf,
  tokenFilePath, writeSecretFile, writeSessionFile,
} from './session-file.js';

const USAGE = `Usage: mesh-env [-o FILE] [-f]

Writes the session saved by mesh-auth as a .env file with MESH_ACCESS_TOKEN,
MESH_REFRESH_TOKEN and MESH_TOKEN_EXPIRES_AT (plus the issuer and client id,
for MeshClient.fromEnv). The access token is refreshed first if it expires
soon; the session file is updated with the new tokens.

Options:
  -o, --output FILE   where to write (default .env; "-" for standard output)
  -f, --force         overwrite FILE if it exists
  --token-file PATH   the session file (MESH_TOKEN_FILE; default ~/.mesh/token.json)
  --issuer URL, --client-id ID, --audience URL, --api-url URL
                      override what the session file remembers
                      (or MESH_ISSUER, MESH_CLIENT_ID, MESH_AUDIENCE, MESH_API_URL)
  --min-valid-seconds N
                      refresh when less than N seconds remain (default 60)
  -h, --help          show this help

Exit codes: 0 written, 1 failed (not signed in, session ended, file exists
without -f), 2 bad usage.
`;

const SPEC = {
  '-o': 'output',
  '--output': 'output',
  '-f': { flag: 'force' },
  '--force': { flag: 'force' },
  '--token-file': 'tokenFile',
  '--issuer': 'issuer',
  '--client-id': 'clientId',
  '--audience': 'audience',
  '--api-url': 'apiUrl',
  '--min-valid-seconds': 'minValid',
  '-h': { flag: 'help' },
  '--help': { flag: 'help' },
};

class Refusal extends Error {}

async function main(argv) {
  const flags = parseArgs(argv, SPEC);
  if (flags.help) {
    process.stdout.write(USAGE);
    return EXIT.OK;
  }
  const output = flags.output ?? '.env';
  const minValid = flags.minValid === undefined ? 60 : Number(flags.minValid);
  if (!(Number.isInteger(minValid) && minValid >= 0)) throw new UsageError('--min-valid-seconds must be a non-negative integer');
  // Refuse before any network call, so a mistaken run changes nothing.
  if (output !== '-' && existsSync(output) && !flags.force) {
    throw new Refusal(`${output} exists; refusing to overwrite it (use -f)`);
  }

  const path = tokenFilePath(flags);
  const stored = readSessionFile(path);
  if (!stored) throw new Refusal(`not signed in: no session at ${path}; run mesh-auth first`);
  const config = clientConfig(flags, process.env, stored);

  const { MeshClient } = await import('../node.js');
  const client = new MeshClient({ ...config, storage: 'memory' });
  let session;
  try {
    // The client caps its leeway at half of the lifetime it sees, and a
    // restored session's lifetime is only what is left of it; so decide here
    // whether the token is too close to expiry, and if so present it as
    // expired: getAccessToken() then refreshes it.
    const now = Math.floor(Date.now() / 1000);
    const due = stored.refreshToken && stored.expiresAt - now < minValid;
    client.setSession({ accessToken: stored.accessToken, refreshToken: stored.refreshToken, expiresAt: due ? now - 1 : stored.expiresAt });
    await client.getAccessToken();
    const env = client.exportEnv();
    session = {
      accessToken: env.MESH_ACCESS_TOKEN,
      refreshToken: env.MESH_REFRESH_TOKEN,
      expiresAt: Number(env.MESH_TOKEN_EXPIRES_AT),
    };
  } catch (err) {
    if (err?.code === 'session_ended' || err?.code === 'not_logged_in') {
      throw new Refusal('the session has ended (the refresh token was revoked or already used); run mesh-auth to sign in again');
    }
    throw err;
  } finally {
    client.dispose();
  }
  if (session.accessToken !== stored.accessToken) {
    // Rotated refresh token: the old one is spent, so save the new one at once.
    writeSessionFile(path, session, config);
  }

  const who = subjectOf(session.accessToken);
  const lines = [
    `# mesh-sdk session${who ? ` for ${who}` : ''}, written by mesh-env at ${new Date().toISOString()}`,
    `# The access token expires at ${describeExpiry(session.expiresAt)}.`,
    '# MeshClient.fromEnv(process.env, options) refreshes it with the refresh token.',
    '# Secrets: keep this file out of version control.',
    'MESH_TOKEN_FROM_ENV=true',
    `MESH_ISSUER=${config.issuer}`,
    `MESH_CLIENT_ID=${config.clientId}`,
    ...(config.audience ? [`MESH_AUDIENCE=${config.audience}`] : []),
    ...(config.apiUrl ? [`MESH_API_URL=${config.apiUrl}`] : []),
    `MESH_ACCESS_TOKEN=${session.accessToken}`,
    ...(session.refreshToken ? [`MESH_REFRESH_TOKEN=${session.refreshToken}`] : []),
    `MESH_TOKEN_EXPIRES_AT=${session.expiresAt}`,
    '',
  ];
  const text = lines.join('\n');
  if (output === '-') {
    process.stdout.write(text);
  } else {
    try {
      writeSecretFile(output, text, { exclusive: !flags.force });
    } catch (err) {
      if (err.code === 'EEXIST') throw new Refusal(`${output} exists; refusing to overwrite it (use -f)`);
      throw err;
    }
    process.stderr.write(`mesh-env: wrote ${output} (mode 0600); access token expires ${describeExpiry(session.expiresAt)}\n`);
  }
  return EXIT.OK;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  async (err) => {
    if (err instanceof Refusal) {
      process.stderr.write(`mesh-env: ${err.message}\n`);
      process.exitCode = EXIT.FAILED;
      return;
    }
    process.exitCode = await reportError('mesh-env', err);
  },
);
