// Server-only: the app's mesh-sdk/next session. The redirect login and the
// device login both run on the server (app/auth/[...mesh]/route.ts), so one
// login gives the server a session: tokens live in a sealed httpOnly cookie
// and never reach the browser's JavaScript. Built on first use, from the
// configuration of the running server (lib/config.ts), not of the build.
import { createMeshAuth, type MeshAuth, type MeshServerSession } from 'mesh-sdk/next';
import { readAppUrl, readMeshConfig } from './config';
import { cookieSecret } from './secret';

let instance: MeshAuth | undefined;

export function meshAuth(): MeshAuth {
  if (instance) return instance;
  const config = readMeshConfig();
  instance = createMeshAuth({
    issuer: config.issuer,
    clientId: config.clientId,
    audience: config.audience,
    // fetchApi's paths (lib/gateway.ts); the token goes to this origin only.
    apiUrl: config.apiUrl,
    baseUrl: readAppUrl(),
    secret: cookieSecret(),
    // profile: the user's name in the ID token; offline_access: a refresh
    // token (oidc-provider keeps it in the code flow only with consent asked).
    scope: 'openid profile offline_access',
    prompt: 'consent',
    // A person waits less than the library's default minute.
    timeoutMs: 20_000,
  });
  return instance;
}

export interface ShownSession {
  userId: string | undefined;
  /** The ID token's `name` (redirect login), else its `sub`, else the user id. */
  userName: string | undefined;
  /** Access-token expiry, Unix milliseconds. */
  expiresAt: number | undefined;
}

/** The signed-in user for a page (server components), or null. */
export async function currentSession(): Promise<ShownSession | null> {
  let session: MeshServerSession | null;
  try {
    session = await meshAuth().auth();
  } catch {
    return null;
  }
  if (!session) return null;
  const userId = session.userId ?? undefined;
  return {
    userId,
    userName: session.user?.name ?? session.user?.sub ?? userId,
    expiresAt: session.expiresAt ? session.expiresAt * 1000 : undefined,
  };
}
