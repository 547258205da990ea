// Several gateway instances bound to one Durable Object namespace, offline:
// the way the gateway runs at the edge, where many isolates in many places
// share one TokenBroker, one KeyShard per key prefix, one RateLimitShard.
//
//   const edge = await startEdge({ instances: 3, vars: { MESH_UPSTREAM_URL: origin.url } });
//   edge.urls; edge.instances[1].jsonLogs(); await edge.restart(0); await edge.stop();
//
// Instance 0 is the host: `wrangler dev` on the gateway's own wrangler.toml,
// which defines the Durable Object classes. Every other instance is its own
// `wrangler dev` (its own workerd process and isolates) on a copy of that
// file whose Durable Object bindings name the host's worker (`script_name`);
// wrangler's dev registry connects them. The registry lives in a directory of
// this harness (WRANGLER_REGISTRY_PATH), so two runs at once never meet.
// Restarting the host evicts every Durable Object, as a deploy or an
// eviction would; the other instances reach the new one through the registry.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './http.mjs';
import { ROOT, startWrangler } from './wrangler.mjs';

/**
 * @param {object} [o]
 * @param {number} [o.instances=3]
 * @param {Record<string,string>} [o.vars]      --var NAME:VALUE for every instance
 * @param {Record<string,string>[]} [o.varsPer] per instance, over `vars`
 * @param {string} [o.config]                   the host's wrangler.toml (default gateway/wrangler.toml)
 * @param {boolean} [o.sharedPersist=false]     one --persist-to for all (KV seen by all instances)
 * @param {boolean|string} [o.echo]
 */
export async function startEdge(o = {}) {
  const count = o.instances ?? 3;
  const dir = mkdtempSync(path.join(tmpdir(), 'mesh-edge-'));
  const env = { WRANGLER_REGISTRY_PATH: path.join(dir, 'registry') };
  const hostConfig = o.config ?? path.join(ROOT, 'gateway/wrangler.toml');
  const hostText = readFileSync(hostConfig, 'utf8');
  const hostName = /^name\s*=\s*"([^"]+)"/m.exec(hostText)?.[1];
  if (!hostName) throw new Error(`${hostConfig}: no worker name`);

  const configs = [hostConfig];
  for (let i = 1; i < count; i++) {
    const file = path.join(dir, `instance-${i}.toml`);
    writeFileSync(file, boundToHost(hostText, hostName, `${hostName}-${i}`, path.dirname(hostConfig)));
    configs.push(file);
  }
  const specs = configs.map((config, i) => ({
    config,
    port: 0,
    persistTo: path.join(dir, o.sharedPersist ? 'state' : `state-${i}`),
    vars: { ...o.vars, ...o.varsPer?.[i] },
  }));
  const instances = new Array(count);
  const start = async (i) => {
    const s = specs[i];
    s.port ||= await freePort();
    const echo = o.echo ? `${typeof o.echo === 'string' ? o.echo : ''}[edge ${i}] ` : false;
    instances[i] = await startWrangler({ config: s.config, port: s.port, persistTo: s.persistTo, vars: s.vars, env, echo });
  };
  const stopAll = async () => {
    await Promise.all(instances.filter(Boolean).map((w) => w.stop()));
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  try {
    // The host first: the others' bindings resolve through its registry entry.
    await start(0);
    for (let i = 1; i < count; i++) await start(i);
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    instances,
    get urls() { return instances.map((w) => w.url); },
    /** Stops instance i and starts it again on the same port and state. */
    async restart(i) {
      await instances[i].stop();
      await start(i);
    },
    stop: stopAll,
  };
}

/**
 * The host's wrangler.toml as another worker that uses the host's Durable
 * Objects: its own name, `main` made absolute, `script_name` on each Durable
 * Object binding, and no migrations (the classes are the host's).
 */
export function boundToHost(text, hostName, name, hostDir) {
  const blocks = text.split(/^(?=\[)/m);
  return blocks
    .filter((b) => !/^\[\[migrations\]\]/.test(b))
    .map((b) => {
      if (/^\[\[durable_objects\.bindings\]\]/.test(b)) {
        return b.replace(/\s*$/, `\nscript_name = "${hostName}"\n\n`);
      }
      return b
        .replace(/^name\s*=\s*"[^"]*"/m, `name = "${name}"`)
        .replace(/^main\s*=\s*"([^"]*)"/m, (_, m) => `main = ${JSON.stringify(path.resolve(hostDir, m))}`);
    })
    .join('');
}
