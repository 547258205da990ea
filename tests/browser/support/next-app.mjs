// The www/ Next.js app for browser tests: set up and built once (skipped when
// up to date), then `next start` on 127.0.0.1 with the mesh-sdk configuration
// given at run time, stopped with its whole process group.
//
//   await buildWww();
//   const app = await startWww({ port, env: { NEXT_PUBLIC_MESH_ISSUER: ... } });
//   app.url; app.logs(); await app.stop();
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killGroup, live } from '../../support/process-group.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const WWW = path.join(ROOT, 'www');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// `next start` is production, where www refuses its development cookie key:
// one random key per test run, shared by the apps it starts.
let secret;
const testSecret = () => (secret ??= randomBytes(32).toString('base64url'));

/** Runs a command to completion with a deadline; rejects with its output on failure. */
function run(cmd, args, { cwd, env, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let out = '';
    const keep = (chunk) => { out = (out + chunk.toString('utf8')).slice(-64 * 1024); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: still running after ${timeoutMs} ms\n${out}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}):\n${out}`));
    });
  });
}

/**
 * Installs www's dependencies and the packed mesh-sdk (../dist/mesh-sdk.tgz),
 * then builds the app if its sources or the package changed since the last
 * build. Needs `scripts/build.sh` to have run.
 */
export async function buildWww({ timeoutMs = 8 * 60_000 } = {}) {
  return run('bash', ['scripts/setup.sh', '--build'], {
    cwd: WWW,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    timeoutMs,
  });
}

/**
 * `next start -H 127.0.0.1 -p <port>` of the built app, or `next dev`
 * (Turbopack, its own `.next/dev`) with `dev: true`.
 * @param {{ port: number, env?: Record<string,string>, readyTimeoutMs?: number, dev?: boolean }} o
 */
export async function startWww({ port, env = {}, readyTimeoutMs = 60_000, dev = false }) {
  const next = path.join(WWW, 'node_modules/next/dist/bin/next');
  const child = spawn(process.execPath, [next, dev ? 'dev' : 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: WWW,
    detached: true, // its own process group: stop() reaches every worker it forks
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: dev ? 'development' : 'production', ...(dev ? {} : { MESH_SECRET: testSecret() }), ...env },
  });
  live.add(child);
  let out = '';
  const keep = (chunk) => { out = (out + chunk.toString('utf8')).slice(-256 * 1024); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    live.delete(child);
    resolve();
  }));

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      killGroup(child, 'SIGTERM');
      await Promise.race([exitPromise, sleep(5000)]);
    }
    killGroup(child, 'SIGKILL');
    if (!exited) await Promise.race([exitPromise, sleep(2000)]);
  };

  const deadline = Date.now() + readyTimeoutMs;
  try {
    for (;;) {
      if (exited) throw new Error(`next ${dev ? 'dev' : 'start'} exited (${exited.code ?? exited.signal}) before it was ready:\n${out}`);
      if (Date.now() > deadline) throw new Error(`next ${dev ? 'dev' : 'start'} not ready within ${readyTimeoutMs} ms:\n${out}`);
      try {
        const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5000) });
        if (res.ok) break;
      } catch { /* not listening yet */ }
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, pid: child.pid, logs: () => out, stop };
}
