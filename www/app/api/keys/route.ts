// The signed-in user's API keys: list and create, through the gateway with the server-held token.
import { callKeys } from '@/lib/gateway';

export const dynamic = 'force-dynamic';

export function GET(): Promise<Response> {
  return callKeys('GET');
}

export async function POST(request: Request): Promise<Response> {
  return callKeys('POST', '', await request.text());
}
