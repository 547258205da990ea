// Type-checked by tests/packaging/types.test.mjs with the `browser` export
// condition: the browser entry's types are the client's, without the gateway.
import * as browser from 'mesh-sdk';
import { MeshClient, MeshError } from 'mesh-sdk';

export const client = new MeshClient({ issuer: 'http://i', clientId: 'c', storage: 'localStorage' });
export const isError = (e: unknown): boolean => e instanceof MeshError && e.code === 'network';
// @ts-expect-error the browser build has no gateway
export const gateway = browser.createGateway;

// The redirect login, as the README's SPA example uses it.
export const isReplay = (e: unknown): boolean => e instanceof MeshError && e.code === 'state_mismatch';
export async function redirectLogin(): Promise<string | null> {
  const url: string = await client.authorizeUrl({ redirectUri: 'http://app/callback', prompt: 'login', returnTo: '/x' });
  await client.loginWithRedirect({ redirectUri: url });
  // @ts-expect-error redirectUri is required
  await client.authorizeUrl({ scope: 'openid' });
  await client.authorizeUrl({ redirectUri: 'http://app/callback', extraParams: { acr_values: 'mfa' } });
  // @ts-expect-error extraParams' values are strings
  await client.authorizeUrl({ redirectUri: 'http://app/callback', extraParams: { max_age: 60 } });
  const session = await client.handleRedirectCallback();
  const name: string | undefined = session.user?.name;
  const sub: string | undefined = client.getSession()?.user?.sub;
  const out = await client.logout({ returnTo: 'http://app/' });
  const revoked: boolean = out.revoked;
  await client.logoutWithRedirect();
  void [name, sub, revoked];
  return session.returnTo ?? out.logoutUrl;
}
