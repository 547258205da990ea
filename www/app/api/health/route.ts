// Proves that Next.js server code imports mesh-sdk (its `node` entry, with the
// wasm inlined) and calls into it.
import { version } from 'mesh-sdk';

export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json({ ok: true, meshSdk: version() });
}
