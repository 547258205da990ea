// The signed-in user's API keys: list and create, through the gateway with the server-held token.
import { meshAuth } from '@/lib/auth';
import { callKeys } from '@/lib/gateway';

export const dynamic = 'force-dynamic';

export function GET(): Promise<Response> {
  return callKeys('GET');
}

export async function POST(request: Request): Promise<Response> {
  // A cross-site request gets a 403 before the session's token is used.
  return meshAuth().checkOrigin(request) ?? callKeys('POST', '', await request.text());
}
