// Benchmark baseline: forwards every request to MESH_UPSTREAM_URL, no auth.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = new URL(url.pathname + url.search, env.MESH_UPSTREAM_URL);
    return fetch(upstream, { method: request.method, headers: request.headers, body: request.body, redirect: 'manual' });
  },
};
