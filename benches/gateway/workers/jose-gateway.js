// Benchmark reference (benches/gateway/run.mjs): the gateway's JWT job done
// the usual way, with jose's jwtVerify + createRemoteJWKSet. Same routes, same
// header stripping, same claims, same injected identity, same uniform 401.
// API keys are left out: the benchmark measures JWT routes only.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const DEFAULT_ROUTES = [
  { prefix: '/api/v1/', auth: 'jwt' },
  { prefix: '/mcp/messages/', auth: 'jwt' },
  { prefix: '/agent/v1/', auth: 'api_key' },
  { prefix: '/health', auth: 'public' },
];
const STRIP = ['x-user-id', 'x-auth-method', 'x-api-key-id'];
const MAX_TOKEN = 16 * 1024;
const SUB_OK = /^[^\u0000-\u001f\u007f]+$/;

let cached; // { env, cfg } per isolate
function config(env) {
  if (cached?.env === env) return cached.cfg;
  const algorithms = (env.MESH_JWT_ALGORITHMS ?? 'RS256,ES256').split(',').map((s) => s.trim()).filter(Boolean);
  const secret = env.MESH_JWT_HS256_SECRET ? new TextEncoder().encode(env.MESH_JWT_HS256_SECRET) : null;
  if (secret) algorithms.push('HS256');
  const jwks = createRemoteJWKSet(new URL(env.MESH_JWKS_URL), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  const cfg = {
    upstream: new URL(env.MESH_UPSTREAM_URL),
    routes: [...(env.MESH_ROUTES ? JSON.parse(env.MESH_ROUTES) : DEFAULT_ROUTES)].sort((a, b) => b.prefix.length - a.prefix.length),
    verify: {
      issuer: env.MESH_JWT_ISSUER,
      audience: env.MESH_JWT_AUDIENCE.split(',').map((s) => s.trim()),
      algorithms,
      clockTolerance: Number(env.MESH_CLOCK_SKEW_SECONDS ?? 30),
      requiredClaims: ['exp', 'iss', 'aud', 'sub'],
    },
    key: (header) => (header.alg === 'HS256' ? secret : jwks(header)),
  };
  cached = { env, cfg };
  return cfg;
}

const deny = (error) => new Response(JSON.stringify({ error }), {
  status: 401,
  headers: { 'content-type': 'application/json', 'www-authenticate': `Bearer error="${error}"` },
});

export default {
  async fetch(request, env) {
    const cfg = config(env);
    const url = new URL(request.url);
    const route = cfg.routes.find((r) => url.pathname === r.prefix || url.pathname.startsWith(r.prefix.endsWith('/') ? r.prefix : `${r.prefix}/`));
    if (!route) return new Response('{"error":"not_found"}', { status: 404, headers: { 'content-type': 'application/json' } });
    const headers = new Headers(request.headers);
    for (const name of [...headers.keys()]) if (STRIP.includes(name) || name.startsWith('x-mesh-identity-')) headers.delete(name);
    if (route.auth === 'jwt') {
      const m = /^bearer +(\S+)$/i.exec(request.headers.get('authorization') ?? '');
      if (!m) return deny('invalid_request');
      if (m[1].length > MAX_TOKEN) return deny('invalid_token');
      let payload;
      try {
        ({ payload } = await jwtVerify(m[1], cfg.key, cfg.verify));
      } catch (e) {
        if (e?.code === 'ERR_JWKS_TIMEOUT' || e?.code === 'ERR_JOSE_GENERIC') return new Response('{"error":"temporarily_unavailable"}', { status: 503 });
        console.log(JSON.stringify({ level: 'warn', event: 'rejected', route: route.prefix, reason: e?.code ?? 'invalid' }));
        return deny('invalid_token');
      }
      if (typeof payload.sub !== 'string' || !SUB_OK.test(payload.sub)) return deny('invalid_token');
      headers.set('x-user-id', payload.sub);
      headers.set('x-auth-method', 'jwt');
    } else if (route.auth !== 'public') {
      return deny('invalid_request');
    }
    const upstream = new URL(url.pathname + url.search, cfg.upstream);
    try {
      return await fetch(upstream, { method: request.method, headers, body: request.body, redirect: 'manual' });
    } catch {
      return new Response('{"error":"bad_gateway"}', { status: 502, headers: { 'content-type': 'application/json' } });
    }
  },
};
