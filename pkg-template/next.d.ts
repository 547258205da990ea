// mesh-sdk/next: a server-side session for Next.js (App Router). The
// redirect login (PKCE, state, nonce, ID token), the refresh and every
// cookie rule are the core's; see the package README.

import type { MeshOAuthOptions, SessionInfo } from './browser.js';

export { MeshError, isMeshError } from './browser.js';

/**
 * Where the session's record lives. `'cookie'` (the default): sealed in the
 * cookie. `'memory'`: this process (the cookie holds a random session id).
 * `{ redis: 'redis://127.0.0.1:6379' }`: Redis, shared by every process,
 * with a refresh lock that expires and a fencing token (`rediss://` for TLS;
 * a dropped connection is reopened by the next call, and a call Redis cannot
 * answer fails with code `storage`). Or your own store.
 */
export type MeshAuthStore = 'cookie' | 'memory' | { redis: string } | ServerStore;

export interface MeshAuthOptions extends Pick<MeshOAuthOptions, 'issuer' | 'clientId' | 'audience' | 'apiUrl' | 'scope' | 'timeoutMs' | 'refreshLeewaySeconds' | 'maxRefreshRetries' | 'refreshCooldownMs'> {
  /** The OpenID Provider (discovery at `/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  /** A confidential client's secret (`client_secret_post`); never sent to the browser. */
  clientSecret?: string;
  /** The app's origin (`https://app.example.com`; no path, query, fragment or userinfo; read in lower case without the default port); `<baseUrl>/auth/callback` is the redirect URI to register. */
  baseUrl: string;
  /** At least 32 random characters (`openssl rand -base64 32`; a placeholder such as 32 of one character is refused): the cookies' key is derived from it (HKDF, AES-256-GCM). */
  secret: string;
  /** Ask for `offline_access` (and the provider's consent) to get a refresh token. */
  scope?: string;
  /** `prompt` for the provider's login page (`consent`, `login`, ...). */
  prompt?: string;
  store?: MeshAuthStore;
  /** The paths `middleware` protects (each covers its subpaths); under `/api` a 401, else to the login. */
  protect?: string[];
}

/** `auth()`'s session: who, and until when; never a token. */
export interface MeshServerSession extends SessionInfo {
  /** Unix seconds: the session ends then whatever its refreshes (30 days after the login). */
  readonly sessionExpiresAt: number;
}

/** The device login the server started, as `GET`/`POST /auth/device` answer it (`{ login }`); no device code in it. */
export interface MeshDeviceLogin {
  readonly userCode: string;
  readonly verificationUri: string;
  /** The URI with the code in it (for a QR code); `verificationUri` when the provider has none. */
  readonly verificationUriComplete: string;
  /** Seconds the code lives from its start. */
  readonly expiresIn: number;
  /** Seconds between polls, as the provider asked. */
  readonly interval: number;
  /** Unix seconds. */
  readonly expiresAt: number;
}

/**
 * What `POST /auth/device/poll` answers. `pending`: poll again after
 * `retryAfterMs` (a poll before then sends nothing to the provider).
 * `complete`: the session cookie is set. `expired`, `denied`, `failed`: the
 * login ended (`error` is the MeshError code); start again.
 */
export type MeshDevicePoll =
  | { state: 'pending'; retryAfterMs: number }
  | { state: 'complete' }
  | { state: 'expired' | 'denied' | 'failed'; error: string | null; message: string };

export interface MeshAuth {
  /**
   * `export const { GET, POST } = handlers` in `app/auth/[...mesh]/route.js`:
   * `GET /auth/login?returnTo=`, `GET /auth/callback`, `POST /auth/logout?returnTo=`,
   * and the device login run by the server: `GET /auth/device` (`{ login }`, the pending one or `null`),
   * `POST /auth/device` (starts one: `{ login }`, a {@link MeshDeviceLogin}), `POST /auth/device/poll`
   * (a {@link MeshDevicePoll}), `POST /auth/device/cancel`. Every POST must carry the app's own
   * `Origin` (403 otherwise); a method a route does not serve is a 405 `method_not_allowed`
   * with `Allow`. A HEAD (which Next.js hands to `GET`) of `/auth/device` is its GET without the
   * body or a cookie; of `/auth/login` or `/auth/callback` it is a 405, as their GET starts or
   * completes a login.
   */
  readonly handlers: { GET(request: Request): Promise<Response>; POST(request: Request): Promise<Response> };
  /**
   * The session, or `null` when signed out. Without `request`: Next.js's `cookies()`
   * (outside Next.js, where `next/headers` does not load, a `MeshError` `invalid_config`
   * that says to pass the request; so do `getAccessToken` and `fetchApi`).
   */
  auth(request?: Request): Promise<MeshServerSession | null>;
  /**
   * A fresh access token (refreshed ahead of expiry, once per session however
   * many requests ask). Throws a `MeshError` (`login_required` when signed out).
   * With the cookie store a refresh rewrites the cookie: into `headers` when a
   * `request` is given, else through `cookies()` (route handlers, server actions).
   */
  getAccessToken(request?: Request, headers?: Headers): Promise<string>;
  /**
   * For route handlers that call your API as the signed-in user: `input` (a
   * path on `apiUrl`, or a URL on its origin; the token goes nowhere else)
   * with the server-held access token, by the client's request policy (a 401
   * refreshes the token and retries once). Never throws: the API's answer
   * (status, body, content type), or `{ error, message }` with the status of
   * the failure (502: the API or the provider could not be reached, or the
   * provider refused the refresh for now, `refresh_failed`, the session kept;
   * 401: no usable session, sign in again; 500: the app's side, such as the store). `request` and
   * `headers` as for {@link getAccessToken}.
   */
  fetchApi(input: string | URL | Request, init?: RequestInit, options?: { request?: Request; headers?: Headers }): Promise<Response>;
  /** `undefined` to go on, or the redirect to the login / the 401. Runs in the edge runtime. */
  middleware(request: Request): Promise<Response | undefined>;
  /**
   * CSRF for your own route handlers that act on the session: a 403 `Response`
   * (code `forbidden`) for a request other than GET, HEAD or OPTIONS whose
   * `Origin` is not `baseUrl`'s, else `null`. `if (refused) return refused;`
   */
  checkOrigin(request: Request): Response | null;
  /** Ends this instance: its store's connection, its cached sessions. */
  close(): Promise<void>;
}

export function createMeshAuth(options: MeshAuthOptions): MeshAuth;

/** A session store of your own: records by session id, and optionally a lock across processes. */
export interface ServerStore {
  get(sid: string): Promise<string | null>;
  /** `fence`: the lock holder's token while it holds the lock; false when the write was refused (the lock was lost). */
  set(sid: string, record: string, ttlMs: number, fence: string | null): Promise<boolean>;
  remove(sid: string, fence: string | null): Promise<void>;
  /** Runs `fn` holding the session's lock (`onFence` gets the fencing token, then `null`); `null`: one process. */
  withLock: (<T>(sid: string, ttlMs: number, onFence: (fence: string | null) => void, fn: () => Promise<T>) => Promise<T>) | null;
  close?(): Promise<void>;
}
