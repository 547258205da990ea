// mesh-sdk/next's handlers: GET /auth/login, /auth/callback, /auth/device;
// POST /auth/logout, /auth/device, /auth/device/poll, /auth/device/cancel.
// A refused or failed callback comes back to /login, which says why, instead
// of the handler's JSON.
import { meshAuth } from '@/lib/auth';

export const dynamic = 'force-dynamic';

export async function GET(request: Request): Promise<Response> {
  const response = await meshAuth().handlers.GET(request);
  const url = new URL(request.url);
  if (url.pathname !== '/auth/callback' || response.status < 400) return response;
  const body = (await response.json().catch(() => null)) as { error?: string | null } | null;
  const headers = new Headers({ 'cache-control': 'no-store' });
  // The pending login's cookie, as the handler updated it.
  for (const cookie of response.headers.getSetCookie()) headers.append('set-cookie', cookie);
  headers.set('location', `/login?failed=${encodeURIComponent(body?.error ?? 'unknown')}`);
  return new Response(null, { status: 303, headers });
}

export function POST(request: Request): Promise<Response> {
  return meshAuth().handlers.POST(request);
}
