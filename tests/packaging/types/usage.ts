// Type-checked by tests/packaging/types.test.mjs (`tsc --noEmit`) against the
// packed package: the public API as users write it, plus wrong usage that
// must not compile (each `@ts-expect-error` fails the check if it compiles).
import {
  MeshClient,
  createGateway,
  isMeshError,
  MeshError,
  verifyIdentity,
  version,
  type ApiKey,
  type CreatedApiKey,
  type CreateApiKeyOptions,
  type KeyNameCheck,
  type DeviceLogin,
  type GatewayEnv,
  type MeshClientOptions,
  type MeshErrorCode,
  type MeshStorage,
  type Session,
  type SessionEndReason,
  type SessionInfo,
  type VerifiedIdentity,
} from 'mesh-sdk';
import init, { MeshClient as SlimClient, version as slimVersion } from 'mesh-sdk/slim';
import * as gatewayOnly from 'mesh-sdk/gateway';
import { createGateway as createDurableGateway, KeyShard, RateLimitShard, TokenBroker } from 'mesh-sdk/gateway/durable';

const v: string = version();

const asyncStorage: MeshStorage = {
  async get(key) { return key === 'x' ? 'value' : null; },
  async set(_key, _value) {},
  async remove(_key) {},
};
const syncStorage: MeshStorage = {
  get: (key) => globalThis.localStorage?.getItem(key) ?? null,
  set: (key, value) => globalThis.localStorage?.setItem(key, value),
  remove: (key) => globalThis.localStorage?.removeItem(key),
};

const options: MeshClientOptions = {
  issuer: 'http://127.0.0.1:9400',
  clientId: 'mesh-demo',
  audience: 'http://127.0.0.1:8787',
  scope: 'openid offline_access',
  apiUrl: 'http://127.0.0.1:8787',
  storage: asyncStorage,
  refreshLeewaySeconds: 60,
  timeoutMs: 60_000,
  treat404AsUnauthorized: true,
};

export async function oauthFlow(signal: AbortSignal): Promise<void> {
  const client = new MeshClient(options);
  const login: DeviceLogin = await client.startDeviceLogin();
  const shown: string = `${login.verificationUri} ${login.userCode} ${login.expiresIn}s every ${login.interval}s`;
  const link: string | undefined = login.verificationUriComplete;
  const session: Session = await client.completeDeviceLogin(login, { signal });
  const expiresAt: number | null = session.expiresAt;
  const refresh: string | null = session.refreshToken;
  const info: SessionInfo | null = client.getSession() ?? client.session;
  const user: string | null | undefined = info?.userId;
  const deadline: number = login.expiresAt;
  const token: string = await client.getAccessToken();
  const res: Response = await client.fetch('/api/v1/chat', { method: 'POST', body: JSON.stringify({ message: 'hi' }) });
  const keys: ApiKey[] = await client.keys.list();
  const created: CreatedApiKey = await client.keys.create('ci-agent');
  const plaintext: string = created.key;
  await client.keys.revoke(keys[0]?.id ?? created.id);
  const scoped: CreatedApiKey = await client.keys.create('ci', { scopes: ['memories:read'], expiresAt: new Date(), rateLimit: 60 });
  const keyOptions: CreateApiKeyOptions = { expiresAt: '2030-01-31T12:00:00Z' };
  await client.keys.create('ci', keyOptions);
  const nameCheck: KeyNameCheck | null = client.keys.checkName('ci-agent');
  const problem: 'empty' | 'too_long' | 'control_character' | undefined = nameCheck?.problem;
  // @ts-expect-error a key name's problem is one of three
  const notAProblem: typeof problem = 'too_short';
  await client.keys.create('ci', { expiresAt: 1_900_000_000 });
  const rotated: CreatedApiKey = await client.keys.rotate(scoped.id, { gracePeriodSeconds: 3600 });
  await client.keys.rotate(rotated.id);
  const scopes: readonly string[] = keys[0]!.scopes;
  const expiry: string | null = keys[0]!.expiresAt;
  const lastUsed: string | null = keys[0]!.lastUsedAt;
  const limit: number | null = keys[0]!.rateLimit;
  // @ts-expect-error scopes are a list, not a space-separated string
  await client.keys.create('ci', { scopes: 'memories:read' });
  // @ts-expect-error the grace is in seconds, a number
  await client.keys.rotate(rotated.id, { gracePeriodSeconds: '60' });
  const reply = await client.chat<{ reply: string }>('What is 5 + 7?');
  const answer: string = reply.reply;
  const valid = await client.validate();
  const source: 'server' | 'local' = valid.source;
  client.setSession({ accessToken: 'a', refreshToken: 'r', expiresAt: 1_900_000_000 });
  client.setSession({ accessToken: 'a.jwt.token' });
  const env = client.exportEnv();
  if (env) {
    const at: string | undefined = env.MESH_TOKEN_EXPIRES_AT;
    const again = MeshClient.fromEnv({ ...env, MESH_TOKEN_FROM_ENV: 'true' }, { issuer: 'http://i', clientId: 'c' });
    again.dispose();
    void at;
  }
  const off = client.on('refreshed', ({ expiresAt: next, userId }) => void [next satisfies number | null, userId]);
  client.on('refreshFailed', ({ error }) => void (error.code satisfies MeshErrorCode));
  client.on('sessionEnded', ({ reason, error }) => void [reason satisfies SessionEndReason, error?.code]);
  client.on('unauthorized', ({ error }) => void `${error.context?.method} ${error.context?.path} ${error.status}`);
  off();
  await client.logout();
  client.dispose();
  void [shown, link, expiresAt, refresh, user, deadline, token, res, plaintext, answer, source, v];
}

export async function apiKeyMode(): Promise<number> {
  const client = new MeshClient({ apiUrl: 'http://127.0.0.1:8787', apiKey: 'mesh_sk_x', storage: undefined });
  const res = await client.fetch(new URL('http://127.0.0.1:8787/agent/v1/mcp/messages/'));
  return res.status;
}

export function errors(e: unknown): string {
  if (isMeshError(e)) {
    const code: MeshErrorCode = e.code;
    const path: string | undefined = e.context?.path;
    const left: number | undefined = e.context?.tokenRemainingSeconds;
    if (code === 'session_ended' || code === 'device_code_expired') return 'login again';
    return `${code} ${path} ${left} ${e.status}`;
  }
  return 'not ours';
}

// MeshError is a class: the same one from every entry.
export function statusOf(e: unknown): number | undefined {
  if (e instanceof MeshError) {
    const code: MeshErrorCode = e.code;
    return code === 'http_error' ? e.status : undefined;
  }
  return undefined;
}

export const gateway = createGateway({ MESH_API_KEY_PREFIX: 'mesh_sk_' });
// A Worker that binds the Durable Objects re-exports their classes from the
// durable entry; `mesh-sdk/gateway` has none.
export const durableGateway = createDurableGateway({ MESH_KEYS_STORE: 'do' });
export const objectClasses = [KeyShard, RateLimitShard, TokenBroker];
// @ts-expect-error mesh-sdk/gateway leaves the Durable Objects out
export const noShard = gatewayOnly.KeyShard;
export default {
  fetch(request: Request, env: GatewayEnv): Promise<Response> {
    return gateway.fetch(request, env);
  },
};
const env: GatewayEnv = { MESH_UPSTREAM_URL: 'http://127.0.0.1:9000', MESH_ROUTES: '[]', MESH_KEYS_PATH: '/me/keys' };

export async function nodeOrigin(req: { method: string; url: string; headers: Record<string, string | string[] | undefined> }): Promise<string> {
  return (await verifyIdentity(req, 'secret')).userId;
}

export async function origin(request: Request): Promise<string> {
  const identity: VerifiedIdentity = await verifyIdentity(request, 'secret', { maxAgeSeconds: 30 });
  const method: 'jwt' | 'api_key' = identity.authMethod;
  return `${identity.userId} ${method} ${identity.apiKeyId ?? ''} ${env.MESH_UPSTREAM_URL}`;
}

export async function slim(bytes: Uint8Array): Promise<string> {
  await init(bytes);
  const client = new SlimClient({ apiUrl: 'http://x', apiKey: 'k' });
  client.dispose();
  return slimVersion();
}

// ---- Wrong usage must not compile.

// @ts-expect-error issuer and clientId are required in OAuth mode
new MeshClient({ apiUrl: 'http://x' });
// @ts-expect-error API-key mode takes no OAuth options
new MeshClient({ apiUrl: 'http://x', apiKey: 'k', issuer: 'http://i' });
// @ts-expect-error storage must be a known name or a store
new MeshClient({ issuer: 'http://i', clientId: 'c', storage: 'indexedDb' });
// @ts-expect-error refreshLeewaySeconds is a number
new MeshClient({ issuer: 'http://i', clientId: 'c', refreshLeewaySeconds: '60' });
// @ts-expect-error no such event
new MeshClient(options).on('refresh', () => {});
// @ts-expect-error the refreshed payload has no token
new MeshClient(options).on('refreshed', ({ accessToken }) => accessToken);
// @ts-expect-error getSession() never shows a token
export const leaked: string = new MeshClient(options).getSession()?.accessToken;
// @ts-expect-error not a stable error code
export const badCode: MeshErrorCode = 'lock_timeout';
// @ts-expect-error variables are strings, as Workers pass [vars]
export const badEnv: GatewayEnv = { MESH_UPSTREAM_URL: 'http://o', MESH_CLOCK_SKEW_SECONDS: 30 };
// @ts-expect-error createGateway options are MESH_* variables only
createGateway({ upstream: 'http://o' });
// @ts-expect-error maxAgeSeconds is a number
verifyIdentity(new Request('http://x'), 's', { maxAgeSeconds: '60' });
export const e: MeshError | undefined = undefined;
