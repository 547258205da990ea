// Type-checked by tests/packaging/types.test.mjs against the packed
// mesh-sdk/next types, in both module resolutions: the README's example as
// users write it, plus wrong usage that must not compile.
import { createMeshAuth, isMeshError, type MeshAuth, type MeshDeviceLogin, type MeshDevicePoll, type MeshServerSession } from 'mesh-sdk/next';

export const mesh: MeshAuth = createMeshAuth({
  issuer: 'https://auth.example.com',
  clientId: 'my-app',
  clientSecret: 'from-the-environment',
  baseUrl: 'https://app.example.com',
  secret: 'at-least-32-random-characters-0123456789',
  scope: 'openid profile offline_access',
  store: { redis: 'redis://127.0.0.1:6379' },
  protect: ['/settings', '/api/keys'],
});
export const { GET, POST } = mesh.handlers;

// A page's device login against the server's routes.
export async function deviceLogin(): Promise<string> {
  const { login }: { login: MeshDeviceLogin } = await (await fetch('/auth/device', { method: 'POST' })).json();
  const code: string = login.userCode;
  const qr: string = login.verificationUriComplete;
  // @ts-expect-error the device code never reaches the page
  void login.deviceCode;
  const poll: MeshDevicePoll = await (await fetch('/auth/device/poll', { method: 'POST' })).json();
  if (poll.state === 'pending') return `${code} ${qr} again in ${poll.retryAfterMs} ms`;
  if (poll.state === 'complete') return 'signed in';
  return `${poll.state}: ${poll.error ?? ''} ${poll.message}`;
}

export async function page(request: Request): Promise<string> {
  const session: MeshServerSession | null = await mesh.auth();
  if (!session) return 'signed out';
  const name: string | undefined = session.user?.name;
  const until: number = session.sessionExpiresAt;
  // @ts-expect-error auth() never holds tokens
  void session.accessToken;
  const headers = new Headers();
  try {
    const token: string = await mesh.getAccessToken(request, headers);
    void token;
  } catch (e) {
    if (isMeshError(e) && e.code === 'login_required') return 'sign in';
  }
  return `${name} ${until}`;
}

export async function middleware(request: Request): Promise<Response | undefined> {
  return mesh.middleware(request);
}

createMeshAuth({ issuer: 'i', clientId: 'c', baseUrl: 'http://localhost:3000', secret: 's', store: 'memory' });
// @ts-expect-error the secret is required
createMeshAuth({ issuer: 'i', clientId: 'c', baseUrl: 'http://localhost:3000' });
// @ts-expect-error not a store
createMeshAuth({ issuer: 'i', clientId: 'c', baseUrl: 'http://localhost:3000', secret: 's', store: 'disk' });
