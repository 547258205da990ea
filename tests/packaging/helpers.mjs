// Shared by the packaging tests: a fresh project with the packed tarball
// installed, free loopback ports, child processes that are always stopped,
// and bounded waits.
import { execFile, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { killGroup, live } from '../support/process-group.mjs';
import { closeQuietly, LAUNCH } from '../browser/support/chromium.mjs';

const run = promisify(execFile);

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const tarball = join(repo, 'dist/mesh-sdk.tgz');
export const bin = (name) => join(repo, 'node_modules/.bin', name);

export async function packageVersion() {
  return JSON.parse(await readFile(join(repo, 'pkg/package.json'), 'utf8')).version;
}

/**
 * A temp project with `files` written and the tarball (plus `deps`) installed.
 * Returns its path; `t.after` removes it.
 */
export async function freshProject(t, { files = {}, copyFrom, deps = [], timeoutMs = 180_000 } = {}) {
  if (!existsSync(tarball)) throw new Error(`${tarball} is missing: run scripts/build.sh first`);
  const dir = await mkdtemp(join(tmpdir(), 'mesh-pkg-'));
  tempDirs.add(dir);
  // Hooks run in the order they were added, and one that throws skips the
  // rest: so stop what runs in the project first (wrangler writes to its
  // config dir until it exits), and never let the removal throw.
  t.after(async () => {
    await Promise.all([...running].filter((p) => p.cwd === dir).map((p) => p.stop()));
    await removeDir(dir);
    tempDirs.delete(dir);
  });
  if (copyFrom) await cp(copyFrom, dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) {
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'probe', private: true }));
  }
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, ...deps], {
    cwd: dir,
    timeout: timeoutMs,
    maxBuffer: 16 << 20,
  });
  return dir;
}

/**
 * Runs `node file` in `cwd`; resolves with its parsed JSON stdout, plus what
 * it wrote to stderr as `stderr` (warnings a user would see).
 */
export async function nodeJson(cwd, file, env = {}) {
  const { stdout, stderr } = await run(process.execPath, [file], {
    cwd,
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { ...JSON.parse(stdout), stderr };
}

export { freePort } from '../support/http.mjs';

/**
 * An HTTP server on 127.0.0.1 that records every request and answers with
 * `handler(req, body)` (default: echo the request as JSON). Closed by `t.after`.
 */
export async function recordingServer(t, handler) {
  const requests = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const seen = { method: req.method, url: req.url, headers: req.headers, body };
    requests.push(seen);
    if (handler && (await handler(req, res, seen))) return;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(seen));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, server };
}

/** Removes a temp dir; a leftover is reported, not a test failure. */
async function removeDir(dir) {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (e) {
    process.stderr.write(`warning: could not remove ${dir}: ${e.message}\n`);
  }
}

// Temp projects, removed if this test process ends early; the process groups
// are the shared tracker's (an interrupted or timed-out run leaves nothing
// behind). `running` holds each started process's stop, by working dir.
const tempDirs = new Set();
const running = new Set();
process.once('exit', () => {
  for (const dir of tempDirs) {
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort at exit */ }
  }
});

/**
 * Starts a long-running command in its own process group; `t.after` stops
 * the whole group (SIGTERM, then SIGKILL). Output is kept for diagnostics.
 */
export function startProcess(t, cmd, args, { cwd, env = {} } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { text: '' };
  const keep = (d) => { out.text = (out.text + d).slice(-20_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  live.add(child);
  const exited = new Promise((r) => child.once('exit', r));
  const entry = { cwd };
  entry.stop = async () => {
    running.delete(entry);
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      const timer = new Promise((r) => setTimeout(r, 5000, 'timeout').unref());
      await Promise.race([exited, timer]);
    }
    // Whatever is left of the group (workerd under wrangler, Next.js workers).
    killGroup(child, 'SIGKILL');
    live.delete(child);
  };
  running.add(entry);
  const stop = entry.stop;
  t.after(stop);
  return { child, out, stop, exited };
}

/** Polls `url` until it answers (any status below 500), within `timeoutMs`. */
export async function waitForHttp(url, { timeoutMs = 60_000, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) {
      throw new Error(`process exited (${proc.child.exitCode}) before ${url} answered:\n${proc.out.text}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (res.status < 500) return res;
      last = `status ${res.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${last})${proc ? `:\n${proc.out.text}` : ''}`);
}

/**
 * Launches Chromium through playwright-core as the browser tests do (flags,
 * wrapper; see tests/browser/support/chromium.mjs); closed by `t.after`,
 * bounded, never throwing from cleanup.
 */
export async function launchChromium(t) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ ...LAUNCH, timeout: 60_000 });
  t.after(() => closeQuietly(browser, 'the browser'));
  return browser;
}
