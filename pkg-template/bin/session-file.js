// Shared by mesh-auth and mesh-env: configuration from flags and environment,
// and the session file (~/.mesh/token.json, mode 0600).
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Exit codes shared by both commands. */
export const EXIT = Object.freeze({ OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 });

/** A usage or configuration problem: printed with the usage hint, exit 2. */
export class UsageError extends Error {
  /** @param {string} message @param {{ flag: string, known: string[] }} [unknown] a flag not in the command's list */
  constructor(message, unknown) {
    super(message);
    this.unknown = unknown;
  }
}

/**
 * Parses argv against a spec: { '--issuer': 'issuer', '-f': true, ... }.
 * A string value names the option key and takes an argument; `true` is a flag.
 */
export function parseArgs(argv, spec) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const kind = spec[flag];
    if (kind === undefined) throw new UsageError(`unknown option ${flag}`, { flag, known: Object.keys(spec) });
    if (kind === true || (typeof kind === 'object' && kind.flag)) {
      if (eq > 0) throw new UsageError(`${flag} takes no value`);
      out[kind.flag ?? flag.replace(/^-+/, '')] = true;
      continue;
    }
    const value = eq > 0 ? raw.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    out[kind] = value;
  }
  return out;
}

/** The session file: MESH_TOKEN_FILE, or ~/.mesh/token.json (HOME honoured). */
export function tokenFilePath(flags = {}, env = process.env) {
  if (flags.tokenFile) return flags.tokenFile;
  if (env.MESH_TOKEN_FILE) return env.MESH_TOKEN_FILE;
  return join(env.HOME || homedir(), '.mesh', 'token.json');
}

/**
 * OAuth client options from flags, then the environment, then `fallback`
 * (what the session file remembers).
 */
export function clientConfig(flags, env = process.env, fallback = {}) {
  const pick = (flag, name, fb) => flags[flag] ?? (env[name] || undefined) ?? fb;
  const config = {
    issuer: pick('issuer', 'MESH_ISSUER', fallback.issuer),
    clientId: pick('clientId', 'MESH_CLIENT_ID', fallback.clientId),
    audience: pick('audience', 'MESH_AUDIENCE', fallback.audience),
    scope: pick('scope', 'MESH_SCOPE', fallback.scope ?? 'openid offline_access'),
    apiUrl: pick('apiUrl', 'MESH_API_URL', fallback.apiUrl),
  };
  if (!config.issuer) throw new UsageError('no issuer: pass --issuer URL or set MESH_ISSUER');
  if (!config.clientId) throw new UsageError('no client id: pass --client-id ID or set MESH_CLIENT_ID');
  for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
  return config;
}

/** Reads the session file; null when it does not exist. Throws on garbage. */
export function readSessionFile(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw new Error(`cannot read ${path}: ${err.code ?? err.message}`);
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not a mesh session file (invalid JSON); run mesh-auth to sign in again`);
  }
  if (!data || typeof data.accessToken !== 'string' || !Number.isFinite(data.expiresAt)) {
    throw new Error(`${path} is not a mesh session file; run mesh-auth to sign in again`);
  }
  return data;
}

/**
 * Writes `text` to `path` with mode 0600, atomically (a temporary file in the
 * same folder, then rename), creating the folder with mode 0700.
 * `exclusive` refuses to replace an existing file.
 */
export function writeSecretFile(path, text, { exclusive = false } = {}) {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (exclusive) {
    // Create the final file exclusively: no race with a file appearing meanwhile.
    createSynced(path, text);
    chmodSync(path, 0o600);
    return;
  }
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  createSynced(tmp, text);
  try {
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
}

/** Creates `path` (it must not exist) with mode 0600, writes `text` and syncs it to disk. */
function createSynced(path, text) {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Saves a session (and the configuration it belongs to) to the session file. */
export function writeSessionFile(path, session, config) {
  const data = {
    issuer: config.issuer,
    clientId: config.clientId,
    audience: config.audience,
    apiUrl: config.apiUrl,
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
    expiresAt: session.expiresAt,
    savedAt: Math.floor(Date.now() / 1000),
  };
  writeSecretFile(path, `${JSON.stringify(data, null, 2)}\n`);
}

/** The `sub` of a JWT, for display only (not verified). */
export function subjectOf(token) {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub ?? null;
  } catch {
    return null;
  }
}

/** "2026-11-25 17:40:12 UTC (in 59 min)". */
export function describeExpiry(expiresAt, now = Date.now() / 1000) {
  const when = new Date(expiresAt * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const left = Math.round(expiresAt - now);
  const rel = left < 0 ? `expired ${humanSeconds(-left)} ago` : `in ${humanSeconds(left)}`;
  return `${when} (${rel})`;
}

function humanSeconds(s) {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** Prints an error as `cmd: message (code)` and returns the exit code. */
export async function reportError(cmd, err) {
  if (err instanceof UsageError) {
    const meant = err.unknown && (await nearestOption(err.unknown));
    process.stderr.write(`${cmd}: ${err.message}${meant ? `; did you mean ${meant}?` : ''}\nTry '${cmd} --help'.\n`);
    return EXIT.USAGE;
  }
  if (err?.code === 'invalid_config') {
    process.stderr.write(`${cmd}: ${err.message}\nTry '${cmd} --help'.\n`);
    return EXIT.USAGE;
  }
  const code = typeof err?.code === 'string' && err.name === 'MeshError' ? ` (${err.code})` : '';
  const cause = err?.cause?.message ? `: ${err.cause.message}` : '';
  process.stderr.write(`${cmd}: ${err?.message ?? err}${cause}${code}\n`);
  return EXIT.FAILED;
}

/**
 * The flag an unknown one most likely misspells, by the core's rule
 * (`spelling::nearest_flag`); the wasm is loaded only on this error path.
 * @param {{ flag: string, known: string[] }} unknown
 */
async function nearestOption({ flag, known }) {
  try {
    const { nearestOption } = await import('../server-wasm.js');
    return nearestOption(flag, known);
  } catch {
    return undefined; // the message stands without the hint
  }
}
