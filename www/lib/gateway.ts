// Server-only: the gateway's key API called with the signed-in user's
// access token, which stays on the server (getAccessToken() refreshes it
// ahead of expiry and rewrites the session cookie when it does). The
// gateway's answers, coded errors included, pass through to the page.
import { meshAuth } from './auth';
import { readMeshConfig } from './config';

const KEYS_PATH = '/api/v1/keys';

function problem(status: number, error: string, message: string): Response {
  return Response.json({ error, message }, { status, headers: { 'cache-control': 'no-store' } });
}

/** `method` `KEYS_PATH + suffix` at the gateway, as the signed-in user. */
export async function callKeys(method: string, suffix = '', body?: string): Promise<Response> {
  let token: string;
  try {
    token = await meshAuth().getAccessToken();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e?.code === 'string' ? e.code : 'login_required';
    const network = code === 'network' || code === 'timeout';
    return problem(network ? 502 : 401, code, String(e?.message ?? 'not signed in'));
  }
  const { apiUrl } = readMeshConfig();
  let answer: Response;
  try {
    answer = await fetch(`${apiUrl}${KEYS_PATH}${suffix}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      body,
      cache: 'no-store',
      signal: AbortSignal.timeout(20_000),
    });
  } catch {
    return problem(502, 'network', `the API at ${apiUrl} did not answer`);
  }
  const text = await answer.text();
  return new Response(text || null, {
    status: answer.status,
    headers: { 'content-type': answer.headers.get('content-type') ?? 'application/json', 'cache-control': 'no-store' },
  });
}
