// Starts the gateway in real workerd through `wrangler dev`, offline, on
// 127.0.0.1 with free ports, and stops it with its whole process group.
//
//   const gw = await startWrangler({ vars: { MESH_UPSTREAM_URL: origin.url } });
//   gw.url; gw.logs(); gw.jsonLogs(); await gw.stop();
//
// Notes on wrangler 4.86, checked in its source (wrangler-dist/cli.js):
// - `--var NAME:VALUE` splits at the first ':' only, so URLs and JSON values
//   pass unharmed; --var values override [vars] and are shown as "(hidden)"
//   in the bindings table. A variable cannot be unset from the command line:
//   pass `config` (another wrangler.toml) for that.
// - console.log of the worker goes to wrangler's stdout as is (one JSON log
//   line stays one line); console.error/warn go to stderr, decorated.
// - wrangler also logs each request as "[wrangler:info] GET /path 200 OK":
//   the path with its query string, never the headers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from './http.mjs';
import { killGroup, live } from './process-group.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WRANGLER = path.join(ROOT, 'node_modules/.bin/wrangler');

/**
 * @param {object} [o]
 * @param {Record<string,string>} [o.vars]     --var NAME:VALUE for each
 * @param {string} [o.config]                  wrangler.toml (default gateway/wrangler.toml)
 * @param {string} [o.persistTo]               default: a fresh temp dir, removed on stop
 * @param {number} [o.port]                    default: a free port
 * @param {number} [o.inspectorPort]           default: a free port
 * @param {number} [o.readyTimeoutMs=90000]
 * @param {boolean|string} [o.echo=false]      copy output to this process (prefix if string)
 * @param {string[]} [o.extraArgs]
 * @param {Record<string,string>} [o.env]      extra environment for wrangler (e.g. WRANGLER_REGISTRY_PATH)
 * @returns {Promise<{ url: string, port: number, persistTo: string, pid: number,
 *   logs(): string, jsonLogs(): object[], stop(): Promise<void> }>}
 */
export async function startWrangler(o = {}) {
  let lastError;
  // A free port can be taken between our probe and wrangler's bind: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(o);
    } catch (e) {
      lastError = e;
      if (!/EADDRINUSE|address already in use/i.test(e.message) || o.port) break;
    }
  }
  throw lastError;
}

async function startOnce(o) {
  const port = o.port ?? await freePort();
  const inspectorPort = o.inspectorPort ?? await freePort();
  const ownDir = !o.persistTo;
  const persistTo = o.persistTo ?? mkdtempSync(path.join(tmpdir(), 'mesh-wrangler-'));
  const args = [
    'dev', '-c', o.config ?? path.join(ROOT, 'gateway/wrangler.toml'),
    '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-ip', '127.0.0.1', '--inspector-port', String(inspectorPort),
    '--persist-to', persistTo,
    '--show-interactive-dev-session=false',
    ...(o.extraArgs ?? []),
  ];
  for (const [k, v] of Object.entries(o.vars ?? {})) {
    if (v === undefined || v === null) continue;
    args.push('--var', `${k}:${v}`);
  }
  const child = spawn(WRANGLER, args, {
    cwd: ROOT,
    detached: true, // its own process group: stop() kills wrangler and workerd together
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...o.env,
      WRANGLER_SEND_METRICS: 'false',
      CI: 'true', // no interactive prompts, no update check banner
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    },
  });
  live.add(child);
  let out = '';
  const prefix = typeof o.echo === 'string' ? o.echo : '[wrangler] ';
  const onData = (chunk) => {
    const s = chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, ''); // no colour codes in logs()
    out += s;
    if (out.length > 8 * 1024 * 1024) out = out.slice(-4 * 1024 * 1024);
    if (o.echo) process.stderr.write(s.replace(/^/gm, prefix));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal }; live.delete(child); resolve();
  }));

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      killGroup(child, 'SIGTERM');
      await Promise.race([exitPromise, sleep(5000)]);
      if (!exited) { killGroup(child, 'SIGKILL'); await Promise.race([exitPromise, sleep(2000)]); }
    }
    // workerd may outlive wrangler for a moment; the group kill reaches it too.
    killGroup(child, 'SIGKILL');
    // Never throw from here: a throwing after-hook skips the hooks after it.
    if (ownDir) {
      try { rmSync(persistTo, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); }
      catch (e) { process.stderr.write(`warning: could not remove ${persistTo}: ${e.message}\n`); }
    }
  };

  const deadline = Date.now() + (o.readyTimeoutMs ?? 90_000);
  try {
    while (true) {
      if (exited) throw new Error(`wrangler exited (${exited.code ?? exited.signal}) before it was ready:\n${out.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`wrangler not ready within ${o.readyTimeoutMs ?? 90_000} ms:\n${out.slice(-4000)}`);
      // A build error does not end `wrangler dev` (it waits for a file change): fail now.
      if (/Build failed/.test(out)) throw new Error(`wrangler could not build the worker:\n${out.slice(-4000)}`);
      if (/Ready on /.test(out)) {
        try {
          // Any HTTP answer means workerd serves the worker.
          await fetch(`${url}/__mesh_ready_probe__`, { signal: AbortSignal.timeout(5000) });
          break;
        } catch { /* not yet */ }
      }
      await sleep(150);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url, port, persistTo, pid: child.pid,
    logs: () => out,
    /** Lines of the gateway's own structured log (JSON objects, one per line). */
    jsonLogs: () => out.split('\n').flatMap((line) => {
      const t = line.trim();
      if (!t.startsWith('{')) return [];
      try { return [JSON.parse(t)]; } catch { return []; }
    }),
    stop,
  };
}
