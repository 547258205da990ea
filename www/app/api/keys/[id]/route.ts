// Revokes one of the signed-in user's API keys.
import { callKeys } from '@/lib/gateway';

export const dynamic = 'force-dynamic';

export async function DELETE(_request: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await params;
  return callKeys('DELETE', `/${encodeURIComponent(id)}`);
}
