// Rotates one of the signed-in user's API keys.
import { meshAuth } from '@/lib/auth';
import { callKeys } from '@/lib/gateway';

export const dynamic = 'force-dynamic';

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await params;
  return meshAuth().checkOrigin(request) ?? callKeys('POST', `/${encodeURIComponent(id)}/rotate`, await request.text());
}
